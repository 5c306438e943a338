"""Whether a run, run again from its record, gave the same numbers; and when not, which recorded fact changed.

``python -m trainer --rerun RUN_DIR`` and ``python -m localsweep rerun NAME TRIAL`` both run a recorded config again
and judge the pair here, so "identical" means one thing. These are compared, each to the bit (NaN equals NaN):

- the SHA-256 of the predictions table (every probability, written as ``%.9g``: float32 exactly),
- each objective's value (the sweep's metric or metrics; the trainer's per-epoch objectives), read as W&B reads it
  (``contract.objectives.Objective.value``),
- every test-set metric (the summary's keys under :data:`TEST_PREFIX`),
- the number of epochs (the last ``epoch`` logged).

The facts a run records in ``config.provenance`` (the trainer: data digests, code commit and dirty flag, package
versions, Python, platform, CPU, GPU, thread settings, the restored objective) are compared as well, flattened to
dotted names: every one that differs now is listed as a likely reason, whether the numbers differ or not. Facts the
original run did not record (it predates them) are said to be unrecorded, not guessed.

Standard library only: the trainer, the engine and the report all import it.
"""

from __future__ import annotations

import hashlib
import math
import os
import platform
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from contract.objectives import Objective

PROVENANCE = "provenance"
"""The config key under which a run records its facts."""
REQUIRED_FACTS = ("data_sha256", "code", "packages")
"""What every version of the trainer has recorded: a provenance without one of them was cut or edited."""
THREAD_VARS = (
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "TF_NUM_INTRAOP_THREADS",
    "TF_NUM_INTEROP_THREADS",
)
"""The variables that set how many threads a run's numeric libraries use (recorded; a rerun sets them again)."""
NOT_COMPARED = ("workdir", "code.repo")
"""Facts that say where a run ran, not what it ran: a rerun at a recorded commit runs in a temporary worktree."""
TEST_PREFIX = "test/"
"""A run's test-set metrics are its summary keys under this prefix."""
EPOCH = "epoch"
IDENTICAL, DIFFERS, CANNOT_RERUN = 0, 1, 2
"""The exit codes of both rerun commands."""
_MISSING = object()


class CannotRerunError(ValueError):
    """The record lacks what a rerun needs (exit code :data:`CANNOT_RERUN`)."""


def sha256_file(path: Path) -> str:
    """SHA-256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def machine() -> dict[str, Any]:
    """The facts of this machine and process that can change a run's numbers: Python, the platform, the CPU and
    the thread settings (None: the variable was not set).

    >>> sorted(machine())
    ['cpu', 'platform', 'python', 'threads']
    """
    return {
        "python": {"version": platform.python_version(), "implementation": platform.python_implementation()},
        "platform": {
            "system": platform.system(),
            "release": platform.release(),
            "machine": platform.machine(),
            "libc": " ".join(platform.libc_ver()).strip(),
        },
        "cpu": {"model": _cpu_model(), "logical": os.cpu_count(), "usable": len(os.sched_getaffinity(0))},
        "threads": {var: os.environ.get(var) for var in THREAD_VARS},
    }


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def missing_facts(provenance: Mapping[str, Any] | None) -> list[str]:
    """The facts every trainer records that ``provenance`` lacks, as dotted config keys (none for a run that
    records no provenance at all: a program other than the trainer may not).

    >>> missing_facts({"data_sha256": {}, "code": {"commit": "ab"}, "packages": {}})
    ['provenance.code.dirty']
    >>> missing_facts(None)
    []
    """
    if provenance is None:
        return []
    missing = [f"{PROVENANCE}.{name}" for name in REQUIRED_FACTS if name not in provenance]
    code = provenance.get("code")
    if isinstance(code, Mapping) and code:  # {} is what a run outside git, with no GIT_COMMIT, records
        missing += [f"{PROVENANCE}.code.{key}" for key in ("commit", "dirty") if key not in code]
    return missing


def flatten(facts: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested facts as dotted names.

    >>> flatten({"code": {"commit": "ab", "dirty": False}, "python": {"version": "3.11.9"}})
    {'code.commit': 'ab', 'code.dirty': False, 'python.version': '3.11.9'}
    """
    flat: dict[str, Any] = {}
    for key, value in facts.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            flat |= flatten(value, f"{name}.")
        else:
            flat[name] = value
    return flat


@dataclass(frozen=True)
class FactChange:
    """A recorded fact whose value differs now (``recorded_now`` False: the rerun no longer records it)."""

    name: str
    then: Any
    now: Any
    recorded_now: bool = True

    def line(self) -> str:
        """The change in words.

        >>> FactChange("packages.numpy", "1.26.4", "2.0.0").line()
        'packages.numpy: 1.26.4 -> 2.0.0'
        """
        now = self.now if self.recorded_now else "(not recorded by the rerun)"
        return f"{self.name}: {self.then} -> {now}"


def changed_facts(then: Mapping[str, Any] | None, now: Mapping[str, Any] | None) -> tuple[list[FactChange], list[str]]:
    """The facts recorded then whose value differs now, and the groups of facts recorded now only (the original
    run predates them).

    >>> changes, unrecorded = changed_facts(
    ...     {"code": {"commit": "a1", "dirty": False}, "packages": {"numpy": "1.26.4"}},
    ...     {"code": {"commit": "b2", "dirty": False}, "packages": {"numpy": "1.26.4"}, "python": {"version": "3.11"}},
    ... )
    >>> [c.line() for c in changes], unrecorded
    (['code.commit: a1 -> b2'], ['python'])
    """
    old, new = flatten(then or {}), flatten(now or {})
    skipped = tuple(f"{name}." for name in NOT_COMPARED)
    changes = [
        FactChange(name, value, new.get(name), name in new)
        for name, value in old.items()
        if name not in NOT_COMPARED and not name.startswith(skipped) and not _equal(value, new.get(name, _MISSING))
    ]
    groups = {name.split(".")[0] for name in set(new) - set(old)} - {name.split(".")[0] for name in old}
    return changes, sorted(groups - set(NOT_COMPARED))


def _equal(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return (type(a) is type(b) and a == b) or (_number(a) and _number(b) and a == b)


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


@dataclass(frozen=True)
class Outcome:
    """What a run gave, as a rerun compares it: the predictions table's SHA-256 (None: no table), each metric's
    value by name (objectives first, then the test metrics) and the last epoch logged."""

    predictions_sha256: str | None
    metrics: Mapping[str, float | None]
    epochs: float | None


def outcome(
    summary: Mapping[str, Any],
    history: Sequence[Mapping[str, Any]],
    predictions: Path | None,
    objectives: Sequence[Objective],
) -> Outcome:
    """The outcome of a run from what it logged and its predictions file.

    >>> found = outcome({"test/accuracy": 0.5, "epoch": 2}, [{"acc": 0.4, "epoch": 1}, {"acc": 0.6, "epoch": 2}],
    ...                 None, [Objective("acc", "maximize")])
    >>> dict(found.metrics), found.epochs
    ({'acc': 0.6, 'test/accuracy': 0.5}, 2)
    """
    metrics: dict[str, float | None] = {o.name: _value(o, summary, history) for o in objectives}
    metrics |= {k: summary[k] for k in sorted(summary) if k.startswith(TEST_PREFIX) and _number(summary[k])}
    epochs = next((row[EPOCH] for row in reversed(history) if EPOCH in row), summary.get(EPOCH))
    sha = None if predictions is None else sha256_file(predictions)
    return Outcome(sha, metrics, epochs)


def _value(objective: Objective, summary: Mapping[str, Any], history: Sequence[Mapping[str, Any]]) -> float | None:
    """The objective's value as W&B reads it; for a run known only by its files (no history), the best value that
    ``define_metric(summary="max"|"min")`` keeps in the summary (``{"max": 0.97}``).

    >>> _value(Objective("acc", "maximize"), {"acc": {"max": 0.97}}, [])
    0.97
    """
    value = objective.value(summary, history)
    kept = summary.get(objective.name)
    if value is None and isinstance(kept, Mapping):
        best = kept.get("max" if objective.maximize else "min")
        return float(best) if isinstance(best, int | float) and not isinstance(best, bool) else None
    return value


@dataclass(frozen=True)
class Check:
    """One compared quantity: its value in the original run and in the rerun."""

    name: str
    then: Any
    now: Any

    @property
    def same(self) -> bool:
        """Equal to the bit (NaN equals NaN; an int equals the same float)."""
        return _equal(self.then, self.now)

    def line(self) -> str:
        """The comparison in words.

        >>> Check("test/accuracy", 0.9, 0.9).line(), Check("epochs", 3, 2).line()
        ('test/accuracy: 0.9 (same)', 'epochs: 3 -> 2 (differs)')
        """
        if self.same:
            return f"{self.name}: {_shown(self.then)} (same)"
        return f"{self.name}: {_shown(self.then)} -> {_shown(self.now)} (differs)"


def _shown(value: Any) -> str:
    return "not recorded" if value is None else repr(value) if isinstance(value, float) else str(value)


@dataclass(frozen=True)
class Verdict:
    """The judgement of a rerun: what was compared, the recorded facts that changed, the facts the original did not
    record, and (``failure``) why the rerun gave nothing to compare."""

    checks: tuple[Check, ...]
    facts: tuple[FactChange, ...]
    unrecorded: tuple[str, ...] = ()
    failure: str | None = None
    notes: tuple[str, ...] = field(default=())

    @property
    def identical(self) -> bool:
        """Every compared quantity equal, and the rerun ran."""
        return self.failure is None and all(check.same for check in self.checks)

    @property
    def status(self) -> str:
        """``identical`` or ``differs``."""
        return "identical" if self.identical else "differs"

    @property
    def exit_code(self) -> int:
        """:data:`IDENTICAL` or :data:`DIFFERS`."""
        return IDENTICAL if self.identical else DIFFERS

    def lines(self) -> list[str]:
        """The verdict as printed: ``identical`` or ``differs`` first, then what was compared, then the facts."""
        lines = [self.status]
        if self.failure is not None:
            lines.append(f"the rerun failed: {self.failure}")
        lines += [f"compared {check.line()}" for check in self.checks]
        if self.facts:
            lines.append("recorded facts that differ now" + (" (the likely reasons):" if not self.identical else ":"))
            lines += [f"  {change.line()}" for change in self.facts]
        else:
            lines.append("recorded facts that differ now: none")
            if not self.identical and self.failure is None:
                lines.append(
                    "  no recorded fact explains it: something unrecorded changed (a GPU kernel that is not "
                    "deterministic, a library loaded at run time, a file the run read without recording it)"
                )
        if self.unrecorded:
            lines.append(f"not recorded by the original run (it predates them): {', '.join(self.unrecorded)}")
        lines += list(self.notes)
        return lines

    def to_json(self) -> dict[str, Any]:
        """The verdict as a JSON-ready dict (what ``rerun.json`` holds)."""
        return {
            "status": self.status,
            "exit_code": self.exit_code,
            "failure": self.failure,
            "compared": [{"name": c.name, "then": c.then, "now": c.now, "same": c.same} for c in self.checks],
            "facts": [{"name": f.name, "then": f.then, "now": f.now} for f in self.facts],
            "unrecorded": list(self.unrecorded),
            "notes": list(self.notes),
            "lines": self.lines(),
        }


def judge(
    then: Outcome,
    now: Outcome | None,
    facts_then: Mapping[str, Any] | None,
    facts_now: Mapping[str, Any] | None,
    failure: str | None = None,
    notes: Sequence[str] = (),
) -> Verdict:
    """Compare a rerun's outcome (None: it failed, ``failure`` says how) and facts with the original's.

    >>> then = Outcome("ab", {"acc": 0.5}, 1)
    >>> old, new = {"packages": {"numpy": "1"}}, {"packages": {"numpy": "2"}}
    >>> judge(then, Outcome("ab", {"acc": 0.5}, 1), old, old).status
    'identical'
    >>> verdict = judge(then, Outcome("cd", {"acc": 0.5}, 1), old, new)
    >>> verdict.lines()[:2], verdict.facts[0].line()
    (['differs', 'compared predictions SHA-256: ab -> cd (differs)'], 'packages.numpy: 1 -> 2')
    """
    changes, unrecorded = changed_facts(facts_then, facts_now)
    if facts_then is None:
        notes = ["the original run recorded no provenance: no fact could be compared", *notes]
    checks: list[Check] = []
    if now is not None:
        if then.predictions_sha256 is not None or now.predictions_sha256 is not None:
            checks.append(Check("predictions SHA-256", then.predictions_sha256, now.predictions_sha256))
        names = [*then.metrics, *(name for name in now.metrics if name not in then.metrics)]
        checks += [Check(name, then.metrics.get(name), now.metrics.get(name)) for name in names]
        checks.append(Check("epochs", then.epochs, now.epochs))
    return Verdict(tuple(checks), tuple(changes), tuple(unrecorded), failure, tuple(notes))
