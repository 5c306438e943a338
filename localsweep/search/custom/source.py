"""The user's own Python for ``method: custom``: the file ``scheduler.source`` names and its two functions.

W&B's schema names the functions (``search_space``, ``optimizer``) but not their signatures; localsweep's are:

``search_space(trial) -> None``
    A define-by-run search space: it calls ``trial.suggest_*`` (conditionally, in any order) and each suggestion
    becomes a top-level config key of the trial, named as suggested. It runs after the YAML's ``parameters`` (if
    any) were suggested, so it can read them from ``trial.params``. It is called once per suggestion with a live
    Optuna trial, and again with an ``optuna.trial.FixedTrial`` to recover a stored trial's distributions, so its
    suggestions must depend on nothing but the trial.
``optimizer(seed) -> Study | BaseSampler | BasePruner``
    Builds the search: an ``optuna.samplers`` sampler, an ``optuna.pruners`` pruner (the sampler is then the
    default, TPE), or an ``optuna.Study`` whose sampler and pruner are used (its directions, storage and trials are
    not: the YAML's metric goals and the sweep's store decide those; a study made by ``optuna.create_study``
    without a pruner has Optuna's default, ``MedianPruner``). It is called before every suggestion, because the
    study is rebuilt from the store each time: ``seed`` is the seed for that suggestion (derived from ``--seed``
    and the number of trials; None without ``--seed``), so pass it to the sampler. A sampler built with a fixed
    seed would draw the same point every time.

The file is read when the sweep is created and its text kept in the store: ``resume``, or a controller on another
host, runs exactly that code, even when the file has changed or is not there.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

FUNCTIONS = ("search_space", "optimizer")


class SchedulerError(ValueError):
    """The file ``scheduler.source`` names, or one of its functions, breaks the contract above."""


@dataclass(frozen=True)
class Source:
    """The text of ``scheduler.source`` as it was when the sweep was created, and where it was read from."""

    path: str
    text: str

    @classmethod
    def read(cls, scheduler: dict[str, Any], workdir: Path) -> Source | None:
        """The file ``scheduler.source`` names, relative to ``workdir`` (None when the YAML names none).

        Raises
        ------
        OSError
            When the file cannot be read.
        """
        path = scheduler.get("source")
        return None if path is None else cls(str(path), (workdir / str(path)).read_text(encoding="utf-8"))

    def function(self, key: str, scheduler: dict[str, Any]) -> Callable[..., Any] | None:
        """The function ``scheduler[key]`` names in this file (None when the YAML names none).

        Raises
        ------
        SchedulerError
            When the file does not run, or has no callable of that name taking one argument.
        """
        name = scheduler.get(key)
        if name is None:
            return None
        namespace = _run(self.path, self.text)
        function = namespace.get(name)
        if not callable(function):
            defined = sorted(k for k, v in namespace.items() if inspect.isfunction(v) and not k.startswith("_"))
            raise SchedulerError(f"{self.path} defines no function {name!r} (its functions: {defined or 'none'})")
        try:
            inspect.signature(function).bind(None)
        except TypeError as err:
            expected = "trial" if key == "search_space" else "seed"
            raise SchedulerError(f"{name}() in {self.path} must take one argument ({expected}): {err}") from err
        return function


@functools.lru_cache(maxsize=8)
def _run(path: str, text: str) -> dict[str, Any]:
    """Execute the file's text once per process (it is the same text for the life of the sweep)."""
    namespace: dict[str, Any] = {"__name__": "localsweep_scheduler_source", "__file__": path}
    try:
        exec(compile(text, path, "exec"), namespace)  # the user's own file, named in their sweep YAML
    except Exception as err:
        raise SchedulerError(f"{path} raised {type(err).__name__} when loaded: {err}") from err
    return namespace
