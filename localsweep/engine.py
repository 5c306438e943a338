"""W&B's search engine (the `sweeps` package), imported once, quietly.

`sweeps` 0.3.0 declares a pydantic v1 config key that pydantic v2 warns about at import time; the warning says
nothing about the user's sweep, so it is silenced here and everything else takes `sweeps` from this module.
The modules are imported by name because this project's own ``sweeps/`` folder (YAML files, no
``__init__.py``) looks like a namespace package to mypy; at run time the installed package wins.
"""

from __future__ import annotations

import importlib
import warnings
from typing import Any

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Valid config keys have changed", category=UserWarning)
    warnings.filterwarnings("ignore", category=DeprecationWarning)  # pydantic v1-style class Config
    sweeps: Any = importlib.import_module("sweeps")
    bayes_search: Any = importlib.import_module("sweeps.bayes_search")
    params: Any = importlib.import_module("sweeps.params")
    schema: Any = importlib.import_module("sweeps.config.schema")
    sweep_run: Any = importlib.import_module("sweeps.run")
