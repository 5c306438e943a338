"""Two models on the same test rows: align the rows, then paired tests (McNemar, paired bootstrap).

Paired tests are only valid when both tables hold the same examples: the rows are matched by ``index``, which
must identify one row in each table, cover the same examples, and carry the same ``y_true``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import binomtest, chi2

from analysis.sources.predictions import Predictions
from analysis.stats.bootstrap import replicates

PAIRED_METRICS = ("accuracy", "f1_macro", "auroc_macro")


def align(a: Predictions, b: Predictions, names: tuple[str, str] = ("A", "B")) -> tuple[Predictions, Predictions]:
    """Both tables ordered by ``index``, after checking that their rows are the same examples.

    Raises
    ------
    ValueError
        If the class sets differ, an ``index`` repeats, the ``index`` sets differ, or ``y_true`` differs for an
        example; the message names the first offending value.

    Examples
    --------
    >>> a = Predictions(np.array([0, 1]), np.array([1, 0]), np.array([1, 0]), np.array([1, 0]),
    ...                 np.array([[0.2, 0.8], [0.9, 0.1]]))
    >>> b = Predictions(np.array([0, 1]), np.array([0, 1]), np.array([0, 1]), np.array([1, 1]),
    ...                 np.array([[0.4, 0.6], [0.3, 0.7]]))
    >>> x, y = align(a, b)
    >>> x.index.tolist(), y.index.tolist(), y.y_pred.tolist()
    ([0, 1], [0, 1], [1, 1])
    """
    if not np.array_equal(a.labels, b.labels):
        raise ValueError(
            f"both tables must have the same classes, but {names[0]} has {a.labels.tolist()} and {names[1]} "
            f"{b.labels.tolist()}; fix: compare models of the same task"
        )
    for name, table in zip(names, (a, b), strict=True):
        values, counts = np.unique(table.index, return_counts=True)
        if (counts > 1).any():
            repeated = values[counts > 1][0]
            raise ValueError(
                f"rows must be the same examples, matched by index, so index must identify one row, but "
                f"{name} has index {repeated} {counts[counts > 1][0]} times; fix: compare tables with one row "
                f"per test example"
            )
    only = np.setxor1d(a.index, b.index)
    if only.size:
        side = names[0] if np.isin(only[0], a.index) else names[1]
        raise ValueError(
            f"rows must be the same examples, but {only.size} index values are in one table only (first: "
            f"{only[0]}, only in {side}; {a.n_rows} rows vs {b.n_rows}); fix: predict both models on the same "
            f"test set"
        )
    a, b = (_reordered(table, np.argsort(table.index, kind="stable")) for table in (a, b))
    differ = np.flatnonzero(a.y_true != b.y_true)
    if differ.size:
        row = differ[0]
        raise ValueError(
            f"rows must be the same examples, but y_true differs for {differ.size} of them (first: index "
            f"{a.index[row]}: {a.labels[a.y_true[row]]} in {names[0]}, {b.labels[b.y_true[row]]} in {names[1]}); "
            f"fix: predict both models on the same test set, in the same label encoding"
        )
    return a, b


def _reordered(table: Predictions, order: np.ndarray) -> Predictions:
    return Predictions(table.labels, table.index[order], table.y_true[order], table.y_pred[order], table.proba[order])


@dataclass(frozen=True)
class McNemar:
    """Correctness of two models on the same rows: ``a_only`` rows only A gets right, ``b_only`` only B.

    ``p_exact`` is McNemar's exact test: a two-sided binomial test of ``b_only`` out of the discordant rows at
    1/2 (``scipy.stats.binomtest``); ``chi2``/``p_chi2`` its chi-squared form with continuity correction,
    ``(|a_only - b_only| - 1)^2 / (a_only + b_only)`` on 1 degree of freedom. ``nan`` without discordant rows.
    """

    both_right: int
    a_only: int
    b_only: int
    both_wrong: int
    p_exact: float
    chi2: float
    p_chi2: float


def mcnemar(a_right: np.ndarray, b_right: np.ndarray) -> McNemar:
    """McNemar's test on two boolean "was this row right" vectors.

    Examples
    --------
    >>> m = mcnemar(np.array([True] * 10 + [False] * 2), np.array([False] * 10 + [True] * 2))
    >>> m.a_only, m.b_only, round(m.p_exact, 4), round(m.chi2, 4), round(m.p_chi2, 4)
    (10, 2, 0.0386, 4.0833, 0.0433)
    """
    a_only = int(np.sum(a_right & ~b_right))
    b_only = int(np.sum(~a_right & b_right))
    discordant = a_only + b_only
    if discordant == 0:
        p_exact = statistic = p_chi2 = float("nan")
    else:
        p_exact = float(binomtest(b_only, discordant, 0.5).pvalue)
        statistic = (abs(a_only - b_only) - 1) ** 2 / discordant
        p_chi2 = float(chi2.sf(statistic, df=1))
    return McNemar(
        int(np.sum(a_right & b_right)), a_only, b_only, int(np.sum(~a_right & ~b_right)), p_exact, statistic, p_chi2
    )


@dataclass(frozen=True)
class PairedDifference:
    """B minus A on the same resamples: the point difference, its percentile interval, the share of resamples in
    which B is better, and every resample's difference (``nan`` resamples left out)."""

    metric: str
    a: float
    b: float
    difference: float
    low: float
    high: float
    b_better_share: float
    resampled: np.ndarray


def paired_bootstrap(
    a: Predictions,
    b: Predictions,
    point_a: dict[str, float],
    point_b: dict[str, float],
    resamples: int,
    seed: int,
    confidence: float,
) -> list[PairedDifference]:
    """Paired bootstrap of ``PAIRED_METRICS``: each resample draws the same rows for both models.

    ``point_a``/``point_b`` hold the metrics on all rows (the point estimates).

    Examples
    --------
    >>> labels, index, y = np.array([0, 1]), np.arange(6), np.array([0, 0, 0, 1, 1, 1])
    >>> proba = np.array([[0.9, 0.1], [0.8, 0.2], [0.4, 0.6], [0.3, 0.7], [0.6, 0.4], [0.2, 0.8]])
    >>> a = Predictions(labels, index, y, proba.argmax(axis=1), proba)
    >>> b = Predictions(labels, index, y, y, np.eye(2)[y])  # always right
    >>> points = {"accuracy": 4 / 6, "f1_macro": 2 / 3, "auroc_macro": 7 / 9}, dict.fromkeys(PAIRED_METRICS, 1.0)
    >>> d = paired_bootstrap(a, b, *points, resamples=200, seed=0, confidence=0.95)[0]
    >>> d.metric, round(d.difference, 4), d.low >= 0, d.b_better_share > 0.5
    ('accuracy', 0.3333, True, True)
    """
    runs = [replicates(t.y_true, t.y_pred, t.proba, resamples, seed, curves=False) for t in (a, b)]
    tail = (1 - confidence) / 2
    result = []
    for name in PAIRED_METRICS:
        difference = runs[1].scalars[name] - runs[0].scalars[name]
        defined = difference[~np.isnan(difference)]
        low, high = np.quantile(defined, [tail, 1 - tail]) if defined.size else (np.nan, np.nan)
        share = float(np.mean(defined > 0)) if defined.size else float("nan")
        result.append(
            PairedDifference(
                name,
                point_a[name],
                point_b[name],
                point_b[name] - point_a[name],
                float(low),
                float(high),
                share,
                defined,
            )
        )
    return result
