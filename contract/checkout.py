"""The code of a recorded commit, checked out in a temporary ``git worktree``: how ``--at-commit`` reruns a run with
the code that made it, so a run made before today's changes can be checked.

A run records ``provenance.code`` as ``{"commit": sha, "dirty": bool, "repo": path}`` (``dirty`` is None where only
``GIT_COMMIT`` named the commit, as in the image; ``repo`` is the repository's top folder). A commit is the code that
ran only if the tree was clean, so a dirty record is refused, as is a commit the repository does not know. The
repository is the recorded one when it is on this host, else the one the rerun command belongs to.

Standard library only (and ``git`` on PATH).
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from contract.reproduce import CannotRerunError

GIT_TIMEOUT_S = 120


def repository(path: Path) -> Path | None:
    """The top folder of the git repository ``path`` is in, or None (not in one, or no git)."""
    try:
        done = _git(path, "rev-parse", "--show-toplevel")
    except (OSError, subprocess.SubprocessError):
        return None
    return Path(done).resolve()


def _git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, timeout=GIT_TIMEOUT_S, check=True
    )
    return done.stdout.strip()


@dataclass(frozen=True)
class Checkout:
    """A commit's code: ``worktree`` holds repository ``repo`` at ``commit``."""

    repo: Path
    worktree: Path
    commit: str

    def place(self, path: Path) -> Path:
        """Where ``path`` (a folder of the repository) is in the worktree; a path outside the repository stays.

        >>> Checkout(Path("/src"), Path("/tmp/code"), "ab").place(Path("/src/sub"))
        PosixPath('/tmp/code/sub')
        >>> Checkout(Path("/src"), Path("/tmp/code"), "ab").place(Path("/data"))
        PosixPath('/data')
        """
        try:
            return self.worktree / Path(path).resolve().relative_to(self.repo)
        except ValueError:
            return Path(path)


def check(code: Mapping[str, Any] | None, fallback_repo: Path) -> tuple[Path, str]:
    """The repository and commit that ``code`` (a record's ``provenance.code``) names, checked out-able.

    Raises
    ------
    CannotRerunError
        When the record names no commit, says the tree was dirty, or the repository does not know the commit.
    """
    commit = str((code or {}).get("commit") or "")
    if not commit:
        raise CannotRerunError(
            "--at-commit needs the commit the run was made from, but its record has none (provenance.code.commit: "
            f"{code!r}: made outside git without GIT_COMMIT); fix: rerun without --at-commit"
        )
    if (code or {}).get("dirty") is True:
        raise CannotRerunError(
            f"--at-commit runs the code of commit {commit}, but the record says the tree was dirty when the run "
            "was made (provenance.code.dirty: true): the commit is not the code that ran, and the changes were not "
            "recorded; fix: rerun without --at-commit"
        )
    recorded = (code or {}).get("repo")
    repo = repository(Path(recorded)) if recorded and Path(recorded).is_dir() else None
    repo = repo or repository(fallback_repo)
    if repo is None:
        raise CannotRerunError(
            f"--at-commit needs a git repository holding commit {commit}, but neither the recorded one "
            f"({recorded}) nor {fallback_repo} is one; fix: run it from a clone"
        )
    try:
        _git(repo, "cat-file", "-e", f"{commit}^{{commit}}")
    except (OSError, subprocess.SubprocessError):
        raise CannotRerunError(
            f"--at-commit runs the code of the recorded commit, but the repository {repo} does not know commit "
            f"{commit}; fix: fetch it (git fetch --all) or rerun without --at-commit"
        ) from None
    return repo, commit


@contextmanager
def code_at(code: Mapping[str, Any] | None, fallback_repo: Path, into: Path) -> Iterator[Checkout]:
    """The recorded commit checked out into the new folder ``into`` (a detached worktree), removed afterwards.

    Raises
    ------
    CannotRerunError
        As :func:`check` does.
    """
    repo, commit = check(code, fallback_repo)
    try:
        _git(repo, "worktree", "add", "--detach", str(into), commit)
    except subprocess.CalledProcessError as error:
        raise CannotRerunError(
            f"--at-commit could not check out commit {commit} of {repo} into {into}: {error.stderr.strip()}"
        ) from None
    try:
        yield Checkout(repo, Path(into).resolve(), commit)
    finally:
        try:
            _git(repo, "worktree", "remove", "--force", str(into))
        except (OSError, subprocess.SubprocessError):
            shutil.rmtree(into, ignore_errors=True)
            subprocess.run(["git", "-C", str(repo), "worktree", "prune"], capture_output=True, check=False)
