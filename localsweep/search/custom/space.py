"""A W&B ``parameters`` block as Optuna distributions, and trial configs as Optuna parameters and back.

Each W&B distribution is classified by W&B's own ``sweeps.params.HyperParameter`` (which also infers the
distribution from ``min``/``max`` alone) and translated when Optuna has the same distribution:

================================  ==========================================================================
W&B                               Optuna
================================  ==========================================================================
``value``                         not searched: the constant goes into every config
``values``                        ``CategoricalDistribution`` (choices: None, bool, int, float or str)
``int_uniform``                   ``IntDistribution(min, max)`` (both inclusive, as in W&B)
``uniform``                       ``FloatDistribution(min, max)``
``log_uniform_values``            ``FloatDistribution(min, max, log=True)``
``inv_log_uniform_values``        the same: W&B's CDF for it, ``(log x - log min) / (log max - log min)``, is
                                  the log-uniform one
``log_uniform``, ``inv_log_uniform``  the same on ``[e^min, e^max]`` and ``[e^-max, e^-min]`` (exponents)
``q_uniform``                     ``Int/FloatDistribution(min, max, step=q)`` when min and max are multiples
                                  of q (W&B rounds to multiples of q; its two end points get half the weight)
``q_log_uniform_values`` (q=1)    ``IntDistribution(min, max, log=True)``
nested ``parameters:``            each leaf as above, named by its dotted path (``optimizer.lr``)
================================  ==========================================================================

Refused, with the key path: ``values`` with ``probabilities`` and the normal, log-normal and beta families
(Optuna has no such distributions), q-log distributions with ``q != 1`` (Optuna's distributions are log-scaled or
stepped, never both), and categorical choices that are not scalars.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from optuna.distributions import BaseDistribution, CategoricalDistribution, FloatDistribution, IntDistribution

from localsweep.search.wandb_engine import params as wandb_params

_KIND = wandb_params.HyperParameter
_SCALARS = (type(None), bool, int, float, str)
_NO_OPTUNA_TWIN = {
    _KIND.CATEGORICAL_PROB: "Optuna's categorical distribution has no probabilities (its samplers learn the "
    "weights): drop `probabilities`",
    _KIND.NORMAL: "Optuna has no normal distribution: use `uniform` (or `values`) over the range you mean",
    _KIND.Q_NORMAL: "Optuna has no normal distribution: use `q_uniform` or `values` over the range you mean",
    _KIND.LOG_NORMAL: "Optuna has no log-normal distribution: use `log_uniform_values` over the range you mean",
    _KIND.Q_LOG_NORMAL: "Optuna has no log-normal distribution: use `values` over the range you mean",
    _KIND.BETA: "Optuna has no beta distribution: use `uniform` over the range you mean",
    _KIND.Q_BETA: "Optuna has no beta distribution: use `q_uniform` or `values` over the range you mean",
}


@dataclass(frozen=True)
class Space:
    """The searched parameters (name → Optuna distribution), the constants (name → value) and each name's key
    path in a trial's nested config (a nested parameter's name is its dotted path: ``opt.lr``)."""

    distributions: dict[str, BaseDistribution]
    constants: dict[str, Any]
    paths: dict[str, tuple[str, ...]]

    def config(self, values: dict[str, Any]) -> dict[str, Any]:
        """The nested trial config from the searched parameters' ``values`` (by name), the constants included;
        names this space does not know (a define-by-run function's own) stay top-level keys.

        >>> Space({}, {"epochs": 3}, {"epochs": ("epochs",), "opt.lr": ("opt", "lr")}).config({"opt.lr": 0.1})
        {'epochs': 3, 'opt': {'lr': 0.1}}
        """
        nested: dict[str, Any] = {}
        for name, value in {**self.constants, **values}.items():
            *outer, leaf = self.paths.get(name, (name,))
            node = nested
            for key in outer:
                node = node.setdefault(key, {})
            node[leaf] = value
        return nested

    def values(self, config: dict[str, Any]) -> dict[str, Any]:
        """The parameters' values (searched and constant) in a nested trial config, by name (missing ones left out).

        >>> space = Space({"opt.lr": FloatDistribution(0.0, 1.0)}, {}, {"opt.lr": ("opt", "lr")})
        >>> space.values({"epochs": 3, "opt": {"lr": 0.1}})
        {'opt.lr': 0.1}
        """
        found = {}
        for name in self.paths:
            node: Any = config
            for key in self.paths[name]:
                node = node.get(key, _MISSING) if isinstance(node, dict) else _MISSING
            if node is not _MISSING:
                found[name] = node
        return found


_MISSING = object()


def translate(parameters: dict[str, Any], outer: tuple[str, ...] = ()) -> tuple[Space, list[str]]:
    """The Optuna space of a W&B ``parameters`` block and, for what Optuna cannot express, one violation per
    parameter (``parameters.units: ...``). A nested parameter is named by its dotted key path.

    >>> space, problems = translate({"lr": {"distribution": "log_uniform_values", "min": 1.0e-4, "max": 0.1},
    ...                              "units": {"values": [32, 64]}, "epochs": {"value": 3}})
    >>> space.distributions["lr"], space.constants, problems
    (FloatDistribution(high=0.1, log=True, low=0.0001, step=None), {'epochs': 3}, [])
    """
    space = Space({}, {}, {})
    problems: list[str] = []
    for key, spec in parameters.items():
        path = (*outer, str(key))
        if isinstance(spec, dict) and "parameters" in spec:
            inner, found = translate(spec["parameters"], path)
            problems += found + [_clash(n) for n in inner.paths if n in space.paths]
            space.distributions.update(inner.distributions)
            space.constants.update(inner.constants)
            space.paths.update(inner.paths)
            continue
        name = ".".join(path)
        if name in space.paths:
            problems.append(_clash(name))
        parameter = _KIND(name, spec)
        if parameter.type == _KIND.CONSTANT:
            space.constants[name] = parameter.value
        elif isinstance(distribution := _distribution(parameter), str):
            problems.append(f"parameters.{name}: {distribution}")
            continue
        else:
            space.distributions[name] = distribution
        space.paths[name] = path
    return space, problems


def _clash(name: str) -> str:
    return f"parameters.{name}: a top-level parameter and a nested one both have this dotted name; rename one"


def _distribution(parameter: Any) -> BaseDistribution | str:
    """The Optuna twin of one W&B distribution, or why there is none (the fix included)."""
    kind, spec = parameter.type, parameter.config
    if kind in _NO_OPTUNA_TWIN:
        return f"a '{spec.get('distribution')}' distribution cannot be searched by Optuna: {_NO_OPTUNA_TWIN[kind]}"
    low, high = spec.get("min"), spec.get("max")
    if kind == _KIND.CATEGORICAL:
        odd = [v for v in spec["values"] if not isinstance(v, _SCALARS)]
        if odd:
            return (
                f"Optuna's categorical choices must be None, bool, int, float or str, but got {odd[0]!r}: "
                "list scalars (e.g. a name your program maps to the structure)"
            )
        return CategoricalDistribution(spec["values"])
    if kind == _KIND.INT_UNIFORM:
        return IntDistribution(low, high)
    if kind == _KIND.UNIFORM:
        return FloatDistribution(low, high)
    if kind in (_KIND.LOG_UNIFORM_V2, _KIND.INV_LOG_UNIFORM_V2):
        return FloatDistribution(low, high, log=True)
    if kind == _KIND.LOG_UNIFORM_V1:
        return FloatDistribution(math.exp(low), math.exp(high), log=True)
    if kind == _KIND.INV_LOG_UNIFORM_V1:
        return FloatDistribution(math.exp(-high), math.exp(-low), log=True)
    if kind == _KIND.Q_UNIFORM:
        return _stepped(low, high, spec["q"])
    if kind == _KIND.Q_LOG_UNIFORM_V2 and spec["q"] == 1 and all(_is_int(v) for v in (low, high)):
        return IntDistribution(int(low), int(high), log=True)
    return (
        f"a '{spec.get('distribution')}' distribution with q={spec.get('q')} cannot be searched by Optuna: its "
        "distributions are log-scaled or stepped, never both; list the `values:` you want, or use q: 1 with "
        "integer min and max (log_uniform exponents are deprecated: use q_log_uniform_values)"
    )


def _stepped(low: float, high: float, q: float) -> BaseDistribution | str:
    if not (_on_grid(low, q) and _on_grid(high, q)):
        return (
            f"q_uniform with min={low}, max={high}, q={q}: W&B rounds to multiples of q, Optuna steps from min, so "
            "they agree only when min and max are multiples of q; choose such min and max"
        )
    if all(_is_int(v) for v in (low, high, q)):
        return IntDistribution(int(low), int(high), step=int(q))
    return FloatDistribution(low, high, step=q)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _on_grid(value: float, q: float) -> bool:
    ratio = value / q
    return math.isclose(ratio, round(ratio), abs_tol=1e-9)
