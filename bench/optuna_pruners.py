"""``scheduler.source`` of the benchmark's pruned custom sweep (bench/bench_search.py, method ``custom-tpe-halving``).

Successive halving with W&B's hyperband rungs of the same benchmark (``min_iter: 1, eta: 3``: judged after epochs
1, 3 and 9), so the two early-termination rules are compared at equal rungs.
"""

from __future__ import annotations

import optuna


def successive_halving(seed: int | None) -> optuna.pruners.BasePruner:
    """Keep the best third at each rung (epochs 1, 3, 9); the sampler stays the default, TPE."""
    return optuna.pruners.SuccessiveHalvingPruner(min_resource=1, reduction_factor=3)
