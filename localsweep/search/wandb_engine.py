"""W&B's search engine (the `sweeps` package), imported once, quietly.

`sweeps` 0.3.0 declares a pydantic v1 config key that pydantic v2 warns about at import time; the warning says
nothing about the user's sweep, so it is silenced here and everything else takes `sweeps` from this module.
The modules are imported by name because this project's own ``sweeps/`` folder (YAML files, no
``__init__.py``) looks like a namespace package to mypy; at run time the installed package wins.
"""

from __future__ import annotations

import contextlib
import importlib
import random
import sys
import warnings
from collections.abc import Iterator
from typing import Any

import numpy as np

# `sweeps` validates with jsonschema, whose format module imports `rfc3987_syntax` when it is installed (Jupyter's
# `jsonschema[format-nongpl]` installs it) and compiles an IRI grammar with lark at import: about 3 s of every
# command. W&B's sweep schema checks only its own "float" and "integer" formats, never an IRI, so the module is
# marked absent for this process (jsonschema then leaves the "iri" format unchecked, as without it).
sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Valid config keys have changed", category=UserWarning)
    warnings.filterwarnings("ignore", category=DeprecationWarning)  # pydantic v1-style class Config
    sweeps: Any = importlib.import_module("sweeps")
    grid_search: Any = importlib.import_module("sweeps.grid_search")
    random_search: Any = importlib.import_module("sweeps.random_search")
    params: Any = importlib.import_module("sweeps.params")
    schema: Any = importlib.import_module("sweeps.config.schema")
    sweep_run: Any = importlib.import_module("sweeps.run")


def bayes_search() -> Any:
    """W&B's bayes module, imported on first use: it imports scikit-learn, which imports pandas and pyarrow (about
    1 s of CPU). The import draws from Python's global generator: what the generators held is put back."""
    with _generators_kept(), warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        return importlib.import_module("sweeps.bayes_search")


def next_runs(config: dict[str, Any], runs: list[Any], n: int = 1) -> list[Any]:
    """``sweeps.next_runs(config, runs, validate=False, n=n)``. The config was validated before the sweep was
    created (validate.py); sweeps 0.3.0's validate=True would also *fill* it through SweepConfig, which silently
    drops nested parameters ({"parameters": {...}} entries).

    ``sweeps.next_runs`` imports its grid, random and bayes modules whatever the method, then calls the method's
    own function; this calls the same functions, the bayes module only for ``method: bayes`` (so a grid or random
    controller never loads scikit-learn)."""
    method = config.get("method")
    if method == "grid":
        return list(grid_search.grid_search_next_runs(runs, config, validate=False, n=n))
    if method == "random":
        return list(random_search.random_search_next_runs(config, validate=False, n=n))
    return list(bayes_search().bayes_search_next_runs(runs, config, validate=False, n=n))


def plain(value: Any) -> Any:
    """``value`` with every numpy scalar (what the engine suggests) turned into the Python number it holds."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


@contextlib.contextmanager
def seeded(seed: int | None) -> Iterator[None]:
    """W&B's random and bayes search draw from Python's and numpy's process-wide generators: seed both for one call
    of the engine (``seed`` None: leave them as they are), then put back what they held, so nothing else in the
    process (a pooled trial's own draws, say) sees its generators reseeded."""
    if seed is None:
        yield
        return
    with _generators_kept():
        random.seed(seed)
        np.random.seed(seed)
        yield


@contextlib.contextmanager
def _generators_kept() -> Iterator[None]:
    """Python's and numpy's process-wide generators, put back as they were once the block ends."""
    python_state, numpy_state = random.getstate(), np.random.get_state()
    try:
        yield
    finally:
        random.setstate(python_state)
        np.random.set_state(numpy_state)
