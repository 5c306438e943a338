"""Trial endings, generated: whatever a process did and whatever its run logged, the verdict is one of the states
with a reason, a metric that is not a finite number is never a score, and nothing raises (pure functions only)."""

from __future__ import annotations

import json
import math
import re
import time
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from localsweep.cli.main import _NAME, default_name
from localsweep.core.runlog import RunRecord
from localsweep.core.trial import CRASHED, FINISHED, STOPPED
from localsweep.outcome.decide import Ending, decide
from localsweep.outcome.explain import headline
from localsweep.outcome.record import judge
from localsweep.run.progress import finite
from localsweep.search import measure
from localsweep.workers.slot import Outcome

FAST = settings(max_examples=200, deadline=None, database=None)

ABSENT = object()
# What a program may log as its metric: a number, NaN, ±inf, a huge int, a string, a bool, nothing.
metric_values = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(-(10**6), 10**6),
    st.just(10**400),
    st.sampled_from([math.nan, math.inf, -math.inf]),
    st.text(max_size=5),
    st.booleans(),
    st.none(),
)
maybe_metric = st.one_of(st.just(ABSENT), metric_values)
exit_codes = st.one_of(st.none(), st.integers(-64, 255), st.sampled_from([-9, -15, 2, 130, 143]))
texts = st.text(alphabet=st.characters(codec="utf-8"), max_size=60)
processes = st.one_of(st.none(), st.builds(Outcome, exit_codes, st.one_of(st.none(), texts)))
endings = st.builds(
    Ending,
    processes,
    stop_requested=st.booleans(),
    timed_out=st.booleans(),
    interrupted=st.booleans(),
    timeout_s=st.one_of(st.none(), st.floats(0.001, 1e6)),
    output_tail=texts,
    unscored=st.one_of(st.just(""), texts),
)


def _row(value: Any) -> dict[str, Any]:
    return {} if value is ABSENT else {"score": value}


runs = st.one_of(
    st.none(),
    st.builds(
        lambda code, summary, history: RunRecord("r", Path("/w/offline-run-1-r"), {}, history, summary, exit_code=code),
        exit_codes,
        maybe_metric.map(_row),
        st.lists(maybe_metric.map(lambda v: {**_row(v), "_step": 0}), max_size=4),
    ),
)
CONFIGS = [{"metric": {"name": "score", "goal": goal}} for goal in ("maximize", "minimize")]


@FAST
@given(endings, runs)
def test_every_ending_gets_one_of_the_states_with_a_reason(ending: Ending, run: RunRecord | None) -> None:
    verdict = decide(ending, run)
    assert verdict.state in (FINISHED, STOPPED, CRASHED)
    if verdict.state == CRASHED:
        assert (verdict.error or "").strip()
        assert headline(verdict.error)
    assert not verdict.requeue or verdict.state == CRASHED
    assert not verdict.refused or verdict.state == CRASHED
    assert verdict.unscored == (verdict.state != CRASHED and bool(ending.unscored))
    cause = headline(verdict.error)
    assert "\n" not in cause
    assert "\x1b" not in cause


@FAST
@given(st.sampled_from(CONFIGS), endings, runs, st.lists(maybe_metric.map(_row), max_size=4))
def test_a_metric_that_is_not_a_finite_number_is_never_a_score(
    config: dict[str, Any], ending: Ending, run: RunRecord | None, live: list[dict[str, Any]]
) -> None:
    judged = judge(config, ending, run, live)
    seen = measure.logged("score", judged.summary, judged.history)
    finite_numbers = [float(v) for v in seen if _finite_number(v)]
    assert judged.value is None or math.isfinite(judged.value)
    assert judged.value is None or judged.value in finite_numbers
    if not finite_numbers:
        assert judged.value is None
    elif not judged.verdict.requeue:
        assert judged.value is not None
    unscored = bool(seen) and not finite_numbers
    if judged.verdict.state in (FINISHED, STOPPED):
        assert judged.verdict.unscored == unscored
        assert judged.verdict.imputed == unscored
        if unscored:
            assert (judged.verdict.error or "").startswith("unscored: score was logged only as ")
    assert measure.unlogged(config, _as_trial(judged.summary, judged.history)) == ([] if seen else ["score"])


def _finite_number(value: Any) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    try:
        return math.isfinite(float(value))
    except OverflowError:  # an int beyond any float
        return False


def _as_trial(summary: dict[str, Any], history: list[dict[str, Any]]) -> Any:
    class Logged:  # what measure.unlogged reads of a trial
        pass

    trial = Logged()
    trial.summary, trial.history = summary, history  # type: ignore[attr-defined]
    return trial


@FAST
@given(texts)
def test_headline_is_one_plain_line_whatever_the_output(output: str) -> None:
    for error in (f"exit code 1\n{output}", output, f"timed out after 1 s (--trial-timeout), then ended: {output}"):
        cause = headline(error)
        assert "\n" not in cause
        assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f]", cause)


@FAST
@given(texts)
def test_a_default_sweep_name_is_always_a_valid_name(stem: str) -> None:
    name = default_name(Path(f"{stem.replace('/', '_')}.yaml"), time.localtime(0))
    assert _NAME.match(name), name


json_values = st.recursive(
    st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(), st.text(max_size=3), st.none()),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=3), inner, max_size=3)),
    max_leaves=10,
)


@FAST
@given(json_values)
def test_json_output_never_holds_nan_or_infinity(value: Any) -> None:
    json.loads(json.dumps(finite(value), allow_nan=False))
