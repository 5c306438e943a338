"""Check a sweep YAML before anything runs: W&B's schema plus the traps W&B itself only finds later.

Every violation is collected and reported at once, each with its key path (``parameters.lr.min: ...``).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from localsweep.search.config_error import SweepConfigError
from localsweep.search.custom import check as custom
from localsweep.search.wandb_engine import params, schema, sweeps

__all__ = ["SweepConfigError", "check_sweep_config", "load_sweep_config"]

# PyYAML implements YAML 1.1, whose float pattern needs a dot in the mantissa and a sign in the exponent:
# `1e-5` or `3e4` load as strings, and W&B then rejects or mis-samples them.
_UNREAD_FLOAT = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+$")
_GRID_TYPES = {
    params.HyperParameter.CATEGORICAL,
    params.HyperParameter.CONSTANT,
    params.HyperParameter.INT_UNIFORM,
    params.HyperParameter.Q_UNIFORM,
}


def load_sweep_config(path: Path) -> dict[str, Any]:
    """Read a sweep YAML the way `wandb sweep` does (``yaml.safe_load``) and insist on a mapping.

    Raises
    ------
    SweepConfigError
        When the file is missing, is not YAML, or is not a mapping.
    """
    try:
        text = path.read_text()
        loaded = yaml.safe_load(text)
    except OSError as err:
        raise SweepConfigError(str(path), [f"cannot read the file: {err.strerror}"]) from err
    except yaml.YAMLError as err:
        raise SweepConfigError(str(path), [f"not valid YAML: {err}{_macro_hint(err, text)}"]) from err
    if not isinstance(loaded, dict):
        raise SweepConfigError(str(path), [f"a sweep config is a mapping, but got {type(loaded).__name__}"])
    return loaded


def _macro_hint(err: yaml.YAMLError, text: str) -> str:
    """A hint when the error is on a line with an unquoted ``${...}`` macro (``[${env}, ...]`` does not parse)."""
    marks = [getattr(err, name, None) for name in ("problem_mark", "context_mark")]
    lines = text.splitlines()
    for mark in marks:
        if mark is not None and mark.line < len(lines) and re.search(r"(^|[\[,\s])\$\{", lines[mark.line]):
            return " (a ${...} macro must be quoted inside [...]: '${env}')"
    return ""


def _dotted(path: Any) -> str:
    return ".".join(str(p) for p in path) or "<top level>"


def _unread_floats(node: Any, path: tuple[str, ...]) -> list[str]:
    if isinstance(node, dict):
        return [v for key, value in node.items() for v in _unread_floats(value, (*path, str(key)))]
    if isinstance(node, list):
        return [v for i, value in enumerate(node) for v in _unread_floats(value, (*path, str(i)))]
    if isinstance(node, str) and _UNREAD_FLOAT.match(node):
        mantissa, exponent = node.lower().split("e")
        mantissa += "" if "." in mantissa else ".0"
        exponent = exponent if exponent[0] in "+-" else f"+{exponent}"
        fixed = f"{mantissa}e{exponent}"
        return [
            f"{_dotted(path)}: {node!r} is a string, because YAML 1.1 (PyYAML, which W&B uses) reads "
            f"numbers in this form as text; write {fixed} (with a dot and a signed exponent)"
        ]
    return []


def _grid_violations(parameters: dict[str, Any]) -> list[str]:
    found = []
    for param in params.HyperParameterSet.from_config(parameters):
        if param.type not in _GRID_TYPES:
            name = param.name.replace(params.HyperParameterSet.NESTING_DELIMITER, ".")
            found.append(
                f"parameters.{name}: grid search needs a finite set of values, but this is a "
                f"'{param.config.get('distribution')}' distribution; list `values:`, or use int_uniform or "
                f"q_uniform (whose max is exclusive), or switch to method random/bayes"
            )
    return found


def _command_violations(config: dict[str, Any], workdir: Path) -> list[str]:
    command = config.get("command")
    if command is not None and not (isinstance(command, list) and command):
        return [f"command: must be a non-empty list like ['${{env}}', '${{interpreter}}', ...], got {command!r}"]
    uses_program = command is None or "${program}" in command
    program = config.get("program")
    if uses_program and not program:
        return ["program: the command uses ${program} but `program:` is not set; set it or use --function"]
    if uses_program and not (workdir / str(program)).is_file():
        return [f"program: {program!r} does not exist relative to {workdir}; run from the project root"]
    return []


def sweep_violations(config: dict[str, Any], *, pooled: bool, workdir: Path) -> list[str]:
    """Every reason ``config`` cannot run as an offline sweep, each prefixed by its key path.

    Parameters
    ----------
    config
        The loaded sweep YAML.
    pooled
        True when trials run a Python function (``--function``): ``program``/``command`` are then unused.
    workdir
        The directory trials start in; ``program`` is resolved against it, as `wandb agent` does, and so is a
        custom sweep's ``scheduler.source``.
    """
    # jsonschema's order varies between runs; sorting by key path keeps the report stable.
    schema_errors = sorted(schema.validator.iter_errors(config), key=lambda e: [str(p) for p in e.absolute_path])
    found = [f"{_dotted(e.absolute_path)}: {e.message}" for e in schema_errors]
    raw_messages = {e.message for e in schema_errors}
    bad_params = {
        str(e.absolute_path[1])
        for e in schema_errors
        if list(e.absolute_path)[:1] == ["parameters"] and len(e.absolute_path) > 1
    }
    parameters: dict[str, Any] = config["parameters"] if isinstance(config.get("parameters"), dict) else {}
    try:
        engine_messages = sweeps.schema_violations_from_proposed_config(config)
    except (ValueError, TypeError, AttributeError, KeyError) as error:
        # The engine's check walks `parameters` assuming it is well formed, and raises instead of reporting when
        # it is not (a list, a spec that is not a mapping); the schema errors above already say what is wrong.
        engine_messages = [] if schema_errors else [f"{type(error).__name__}: {error}"]
    for message in engine_messages:
        if message in raw_messages or message.split(": ")[-1] in bad_params:
            continue  # the same problem, already reported above with its key path
        keyed = f"parameters.{message}" if message.split(":")[0] in parameters else message
        if keyed not in found:
            found.append(keyed)
    found += _unread_floats(config, ())
    if not schema_errors:
        found += custom.violations(config, workdir)  # method: custom, run by Optuna
    if "metric" not in config and (config.get("method") == "bayes" or "early_terminate" in config):
        found.append("metric: bayes search and early_terminate need `metric: {name: ..., goal: ...}`")
    if config.get("method") == "grid" and parameters and not bad_params:
        found += _grid_violations(parameters)
    if not pooled:
        found += _command_violations(config, workdir)
    return found


def check_sweep_config(config: dict[str, Any], source: str, *, pooled: bool, workdir: Path) -> None:
    """Raise :class:`SweepConfigError` listing every violation, or return when ``config`` can run."""
    violations = sweep_violations(config, pooled=pooled, workdir=workdir)
    if violations:
        raise SweepConfigError(source, violations)
