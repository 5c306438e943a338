"""Find the predictions to analyse: W&B's public API, an offline sweep, an offline run; and log results back.

The only module of the package that talks to wandb (and to the offline engine, which reads wandb's files).
wandb is imported inside the functions that need it, so ``--predictions FILE`` never pays for it.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from analysis.sources.predictions import Predictions
from analysis.sources.source import (
    ObjectivePoint,
    Pareto,
    RunInfo,
    Selection,
    Source,
    SweepInfo,
    TrialPoint,
    swept_parameters,
)
from analysis.sources.trials import BEST, Pick, best_rule, choose, hint, pareto_of_runs
from analysis.stats.metrics import Metrics
from contract import predictions as schema
from contract.objectives import Objective, is_multi_objective, objectives, primary

if TYPE_CHECKING:  # the engine imports wandb: only where a sweep is read
    from localsweep.core.trial import Trial
    from localsweep.storage.view import SweepView

PREDICTIONS_SUFFIXES = (".csv", ".parquet")
SWEEP_OPTION = "--sweep"


class SourceUnavailableError(RuntimeError):
    """Where the predictions are could not be reached (the sweep's database, W&B's server): not bad input, but
    nothing to analyse either; the message says where and why."""


_ONLINE_SWEEP = re.compile(r"^[\w.-]+/[\w.-]+/\w+$")
LOGGED_ROWS = 100_000  # rows given to wandb.plot.* (it builds its tables row by row in Python)
WANDB_TIMEOUT_S = 300.0
"""The longest the report waits on W&B's server for a sweep, its runs and the predictions (``--timeout``)."""
T = TypeVar("T")


def from_predictions_file(path: Path) -> Source:
    """A predictions file given directly: nothing is known about its run."""
    return Source(predictions_path=path, origin=f"file {path}")


def accepted(option: str) -> str:
    """The rule a source given as ``option`` follows: what ``--sweep`` names, or what ``compare``'s A and B may be.

    >>> accepted("--sweep")
    '--sweep must name an offline sweep (a name under --sweeps-root, or its directory) or ENTITY/PROJECT/SWEEP_ID'
    """
    sweep = "a name under --sweeps-root, or its directory"
    if option == SWEEP_OPTION:
        return f"{option} must name an offline sweep ({sweep}) or ENTITY/PROJECT/SWEEP_ID"
    return (
        f"{option} must be a predictions file (.csv or .parquet), an offline run directory, or a sweep "
        f"({sweep.replace(', or', ',')}, or ENTITY/PROJECT/SWEEP_ID)"
    )


def resolve(
    spec: str,
    root: Path,
    storage: str | None = None,
    option: str = "compare's A or B",
    timeout: float = WANDB_TIMEOUT_S,
) -> Source:
    """What ``python -m analysis compare`` was given as ``option``: a predictions file, an offline run directory,
    or a sweep (a name under ``root``, a sweep directory, or ``ENTITY/PROJECT/SWEEP_ID``), whose best run is taken.

    Raises
    ------
    ValueError
        If ``spec`` is none of these; the message says what ``option`` accepts (``accepted``).
    """
    path = Path(spec)
    if path.is_file() and path.suffix in PREDICTIONS_SUFFIXES:
        return from_predictions_file(path)
    if path.is_dir() and any(path.glob("run-*.wandb")):
        return from_run_dir(path, option)
    if path.is_file() or path.suffix.lower() in PREDICTIONS_SUFFIXES:  # a file, so not a sweep
        why = "is neither .csv nor .parquet" if path.is_file() else "does not exist"
        raise ValueError(f"{accepted(option)}, but {spec} {why}; fix: check the path")
    return from_sweep(spec, root, storage, option, timeout)


def artifact_metadata(run_dir: Path, name: str) -> dict[str, Any] | None:
    """The metadata of the artifact ``name`` logged by an offline run (``localsweep.core.runlog`` keeps no metadata)."""
    from localsweep.core.runlog import iter_records

    for log in sorted(run_dir.glob("run-*.wandb")):
        for record in iter_records(log):
            if record.HasField("artifact") and record.artifact.name == name and record.artifact.metadata:
                return dict(json.loads(record.artifact.metadata))
    return None


def from_run_dir(run_dir: Path, option: str = "--run") -> Source:
    """An offline wandb run directory (given as ``option``): its ``predictions`` artifact (else
    ``files/predictions.*``)."""
    from localsweep.core.runlog import read_run

    try:
        record = read_run(run_dir)
    except (FileNotFoundError, ValueError) as error:
        raise ValueError(f"{option} must be an offline wandb run directory, but {error}") from None
    artifact = record.artifact(schema.ARTIFACT_TYPE)
    candidates = [path for path in (artifact.entries.values() if artifact else []) if path.is_file()]
    stem = Path(schema.FILE_NAME).stem
    candidates += [run_dir / "files" / f"{stem}{suffix}" for suffix in PREDICTIONS_SUFFIXES]
    found = [path for path in candidates if path.suffix in PREDICTIONS_SUFFIXES and path.is_file()]
    if not found:
        logged = [f"{a.name} ({a.type})" for a in record.artifacts] or "none"
        raise ValueError(
            f"the run must have a predictions artifact (or files/predictions.csv), but run {record.run_id} in "
            f"{run_dir} has neither (artifacts: {logged}); fix: analyse a run of `python -m trainer`, which "
            f"writes one"
        )
    state = "running" if record.exit_code is None else ("finished" if record.exit_code == 0 else "crashed")
    notes = [] if state == "finished" else [f"the run is {state} (exit code {record.exit_code})"]
    run = RunInfo(record.run_id, record.run_id, state, record.config, record.summary, str(run_dir))
    name = artifact.name if artifact else None
    version = schema.version_of(artifact_metadata(run_dir, name) if name else None)
    return Source(
        predictions_path=found[0],
        origin=f"offline run {run_dir}",
        run=run,
        artifact=name,
        notes=notes,
        schema_version=version,
    )


def from_offline_sweep(
    name_or_path: str, root: Path, storage: str | None = None, option: str = SWEEP_OPTION, pick: Pick = BEST
) -> Source:
    """The best trial of a local offline sweep (a sweep directory, its ``sweep.db``, or a name under ``root``, or
    in ``storage``: a PostgreSQL URL, default ``$LOCALSWEEP_STORAGE``), or the trial ``pick`` names.

    The trial's predictions are read from its run directory; when that lies on another host (a sweep run by
    agents on many hosts), from the copy the store keeps of every finished run's predictions artifact.
    """
    from localsweep.storage.view import DatabaseUnavailableError, default_storage

    storage = storage or default_storage()
    path = Path(name_or_path)
    try:
        return _from_store(name_or_path, path, root, storage, option, pick)
    except DatabaseUnavailableError as error:
        raise SourceUnavailableError(str(error)) from None


def _from_store(name_or_path: str, path: Path, root: Path, storage: str | None, option: str, pick: Pick) -> Source:
    from localsweep.storage.view import Location, SweepView, find_sweep

    try:
        if path.suffix == ".db":
            store = SweepView.open(path)
        elif path.is_dir() or len(path.parts) > 1:  # a sweep's folder (in PostgreSQL, it may not exist here)
            store = SweepView.connect(Location(path.name, path.parent, storage))
        else:
            store = SweepView.connect(find_sweep(name_or_path, root, storage))
    except FileNotFoundError as error:
        raise ValueError(f"{accepted(option)}, but {error}") from None
    try:
        trials = store.trials()
        pareto = _pareto_of_trials(store.config, trials)
        best, selection = store.best_trial(), None
        if not pick.default:
            selection = choose(store.name, store.config, pareto, pick)
            best = next(t for t in trials if t.run_id == selection.run_id)
        if best is None:
            states = ", ".join(f"{t.run_id}: {t.state}" for t in trials) or "no trials"
            raise ValueError(
                f"the sweep must have a finished run with a {store.metric_name} value, but sweep {store.name} has "
                f"none ({states}); fix: run or resume the sweep (`python -m localsweep`)"
            )
        if best.run_dir is not None and best.run_dir.is_dir():
            run = from_run_dir(best.run_dir)
        else:
            run = _from_store_copy(store, best)
    finally:
        store.close()
    points = [TrialPoint(t.run_id, t.state, t.config, None if t.metric_imputed else t.metric_value) for t in trials]
    multi = is_multi_objective(store.config)
    if multi and selection is None:
        selection = Selection("best", best.run_id, best.number, best_rule(store.config), hint(store.config))
    sweep = SweepInfo(
        name=store.name,
        sweep_id=store.sweep_id,
        metric_name=store.metric_name or "metric",
        goal=store.goal,
        location=store.describe(),
        parameters=swept_parameters(store.config),
        trials=points,
    )
    return Source(
        predictions_path=run.predictions_path,
        origin=f"offline sweep {store.name} ({store.describe()})",
        run=run.run,
        sweep=sweep,
        artifact=run.artifact,
        notes=run.notes,
        schema_version=run.schema_version,
        pareto=pareto if multi else None,
        selection=selection,
    )


def _pareto_of_trials(config: dict[str, Any], trials: Sequence[Trial]) -> Pareto:
    """An offline sweep's objectives, front and ranks, as the engine computes them."""
    from localsweep.core import pareto

    goals = tuple(objectives(config))
    on_front = {t.run_id for t in pareto.front(config, trials)}
    points = tuple(
        ObjectivePoint(
            t.run_id, t.number, str(t.state), t.config, tuple(pareto.values(config, t)), t.run_id in on_front
        )
        for t in trials
    )
    ranked = tuple(tuple(t.run_id for t in pareto.along(config, trials, o.name)) for o in goals)
    return Pareto(goals, points, ranked)


def _from_store_copy(store: SweepView, trial: Trial) -> Source:
    """The predictions of ``trial`` from the copy its sweep's store keeps."""
    artifact = next((a for a in trial.artifacts if a["type"] == schema.ARTIFACT_TYPE), None)
    names = [name for name in (artifact or {}).get("entries", {}) if Path(name).suffix in PREDICTIONS_SUFFIXES]
    found = [(name, data) for name in names if (data := store.read_file(trial.run_id, name)) is not None]
    if not found:
        where = f"its run directory {trial.run_dir} is not on this host" if trial.run_dir else "it has no run directory"
        raise ValueError(
            f"the predictions of run {trial.run_id} must be readable, but {where} and sweep {store.name} keeps no "
            f"copy of them (one recorded in PostgreSQL keeps those of each finished or stopped trial); fix: analyse "
            f"it on the host that ran it (host {trial.host or 'unknown'}), or pass its predictions file with "
            f"--predictions"
        )
    name, data = found[0]
    directory = Path(tempfile.mkdtemp(prefix="analysis-"))
    (directory / Path(name).name).write_bytes(data)
    run = RunInfo(trial.run_id, trial.run_id, trial.state.value, trial.config, trial.summary, f"host {trial.host}")
    return Source(
        predictions_path=directory / Path(name).name,
        origin=f"run {trial.run_id} (predictions kept in the sweep's store)",
        run=run,
        artifact=artifact["name"] if artifact else None,
        notes=[f"run {trial.run_id} ran on host {trial.host}: its predictions were read from the sweep's store"],
        schema_version=None,
    )


def from_sweep(
    spec: str,
    root: Path,
    storage: str | None = None,
    option: str = SWEEP_OPTION,
    timeout: float = WANDB_TIMEOUT_S,
    pick: Pick = BEST,
) -> Source:
    """``--sweep`` (or how ``option`` gave it): a local offline sweep if one matches ``spec``, else
    ``ENTITY/PROJECT/SWEEP_ID`` on W&B; its best run, or the trial ``pick`` names."""
    local = Path(spec).exists() or (root / spec).is_dir()
    if local or not _ONLINE_SWEEP.match(spec):
        return from_offline_sweep(spec, root, storage, option, pick)
    mode = os.environ.get("WANDB_MODE", "")
    if mode in ("offline", "disabled", "dryrun"):
        raise ValueError(
            f"{option} {spec} names a W&B sweep, but WANDB_MODE={mode} forbids the server and no offline sweep "
            f"{spec!r} exists under {root}/; fix: set WANDB_MODE=online (and WANDB_API_KEY), or name a local sweep"
        )
    return from_wandb_sweep(spec, root, storage, timeout, option, pick)


def from_wandb_sweep(
    path: str,
    root: Path = Path("offline_sweeps"),
    storage: str | None = None,
    timeout: float = WANDB_TIMEOUT_S,
    option: str = SWEEP_OPTION,
    pick: Pick = BEST,
) -> Source:
    """The best finished run of W&B sweep ``path`` (by the sweep's metric and goal), or the run ``pick`` names, and
    its ``predictions`` artifact, asking W&B's server for at most ``timeout`` seconds in all.

    The sweep's runs are those W&B's ``Sweep.runs`` lists (runs whose ``sweep`` is its id:
    ``wandb/apis/public/sweeps.py``), and the runs ``localsweep sync`` attached to it as prior runs, which that list
    leaves out (wandb/wandb#3347): ``sync`` records their ids in the offline sweep's store, found here under
    ``root`` or in ``storage``.

    Raises
    ------
    ValueError
        When W&B refuses or lacks what is asked (no such sweep, no permission, no finished run, no predictions).
    SourceUnavailableError
        When W&B's server cannot be reached, or does not answer within ``timeout`` seconds.
    """
    from localsweep.bridge.server import ServerError, bounded

    attached = _synced_run_ids(path, root, storage)
    try:
        return bounded(
            lambda: _from_wandb(path, attached, timeout, option, pick), timeout, f"asking for W&B sweep {path}"
        )
    except ServerError as error:
        raise SourceUnavailableError(f"{error}; fix: check the network (and HTTPS_PROXY), or raise --timeout") from None


def _synced_run_ids(path: str, root: Path, storage: str | None) -> list[str]:
    """The runs ``localsweep sync`` attached to W&B sweep ``path``, as recorded by the offline sweep it came from."""
    from localsweep.storage.view import DatabaseUnavailableError, SweepView, default_storage, sweep_locations

    try:
        for location in sweep_locations(root, storage or default_storage()):
            store = SweepView.connect(location)
            try:
                made = store.wandb_sweep
            finally:
                store.close()
            if made is not None and made["path"] == path:
                return [str(run_id) for run_id in made["run_ids"]]
    except DatabaseUnavailableError as error:
        raise SourceUnavailableError(str(error)) from None
    return []


def _asked(path: str, option: str, question: Callable[[], T]) -> T:
    """``question()`` to W&B's server; what fails there becomes one line: unreachable, else refused or missing."""
    import requests
    import wandb

    try:
        return question()
    except (wandb.errors.Error, requests.RequestException, LookupError, ValueError) as error:
        reason = f"{type(error).__name__}: {' '.join(str(error).split())}"
        message = f"{option} ENTITY/PROJECT/SWEEP_ID needs W&B's API, but asking it for {path} failed: {reason}"
        chain: BaseException | None = error
        while chain is not None:
            if isinstance(chain, requests.ConnectionError | requests.Timeout):
                raise SourceUnavailableError(f"{message}; fix: check the network and WANDB_BASE_URL") from None
            chain = chain.__cause__ or chain.__context__
        raise ValueError(f"{message}; fix: check the path and WANDB_API_KEY, or use an offline sweep") from None


def _from_wandb(path: str, attached: list[str], timeout: float, option: str, pick: Pick) -> Source:
    import wandb

    api = _asked(path, option, lambda: wandb.Api(timeout=max(1, min(30, int(timeout)))))
    sweep = _asked(path, option, lambda: api.sweep(path))
    runs = _asked(path, option, lambda: _sweep_runs(api, sweep, path, attached))
    objective = primary(sweep.config) or Objective("")
    name = objective.name
    points = _asked(
        path,
        option,
        lambda: [
            TrialPoint(r.id, r.state, dict(r.config), _number(r.summary.get(name)) if r.state == "finished" else None)
            for r in runs
        ],
    )
    sweep_info = SweepInfo(
        name=sweep.name,
        sweep_id=sweep.id,
        metric_name=name or "metric",
        goal=objective.goal,
        location=sweep.url,
        parameters=swept_parameters(sweep.config),
        trials=points,
    )
    scored = sweep_info.scored()
    pareto = pareto_of_runs(sweep.config, [(r.id, r.state, dict(r.config), r.summary) for r in runs])
    selection = None if pick.default else choose(path, sweep.config, pareto, pick)
    if not runs:
        raise ValueError(
            f"W&B sweep {path} lists no runs: W&B lists a sweep's runs by their `sweep` field, which runs attached to "
            f"it as prior runs (`localsweep sync`, `wandb sweep --prior_run`) do not have (wandb/wandb#3347), and "
            f"no offline sweep here records having made it; fix: run the report where that offline sweep's store is "
            f"(--sweeps-root, --storage), or name the offline sweep itself, or run agents for the W&B sweep"
        )
    if selection is None and not scored:
        states = ", ".join(f"{r.id}: {r.state}" for r in runs)
        raise ValueError(
            f"the sweep must have a finished run with a {name or 'metric'} value, but W&B sweep {path} has none "
            f"({states}); fix: run agents until one finishes"
        )
    best = next(r for r in runs if r.id == (selection.run_id if selection else scored[0].run_id))
    multi = is_multi_objective(sweep.config)
    if multi and selection is None:
        selection = Selection("best", best.id, None, best_rule(sweep.config), hint(sweep.config))
    artifacts = _asked(path, option, lambda: [a for a in best.logged_artifacts() if a.type == schema.ARTIFACT_TYPE])
    if not artifacts:
        raise ValueError(
            f"the run must have logged a predictions artifact, but run {best.id} of sweep {path} has none; "
            f"fix: train with `python -m trainer`, which logs predictions-<run_id>"
        )
    version = schema.version_of(artifacts[-1].metadata)
    directory = _asked(path, option, lambda: Path(artifacts[-1].download(root=tempfile.mkdtemp(prefix="analysis-"))))
    found = sorted(p for p in directory.rglob("*") if p.suffix in PREDICTIONS_SUFFIXES)
    if not found:
        raise ValueError(f"the predictions artifact {artifacts[-1].name} holds no .csv or .parquet file")
    run = RunInfo(best.id, best.name, best.state, dict(best.config), dict(best.summary), best.url)
    return Source(
        found[0],
        f"W&B sweep {path}",
        run,
        sweep_info,
        artifact=artifacts[-1].qualified_name,
        schema_version=version,
        pareto=pareto if multi else None,
        selection=selection,
    )


def _sweep_runs(api: Any, sweep: Any, path: str, attached: list[str]) -> list[Any]:
    """The sweep's own runs, then the attached ones W&B does not list with them (looked up by id)."""
    runs = {run.id: run for run in sweep.runs}
    missing = [run_id for run_id in attached if run_id not in runs]
    if missing:
        entity, project, _ = path.split("/")
        for run in api.runs(f"{entity}/{project}", filters={"name": {"$in": missing}}):
            runs.setdefault(run.id, run)
    return list(runs.values())


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) else None


def log_to_wandb(
    source: Source, predictions: Predictions, metrics: Metrics, scalars: dict[str, float], images: dict[str, bytes]
) -> str:
    """Log the analysis as a new wandb run of job type ``analysis``; returns its id.

    ``wandb.plot.confusion_matrix`` and ``wandb.plot.roc_curve`` build their tables row by row, so they get a
    seeded random sample of at most ``LOGGED_ROWS`` rows; the scalars are the exact values.
    """
    import io

    import wandb
    from PIL import Image

    rows = np.arange(predictions.n_rows)
    if rows.size > LOGGED_ROWS:
        rows = np.sort(np.random.default_rng(0).choice(rows, LOGGED_ROWS, replace=False))
    names = [str(label) for label in metrics.labels]
    present = np.flatnonzero(metrics.support)  # wandb.plot.roc_curve indexes columns by the classes present
    config = {"analysed_run": source.run.run_id if source.run else None, "origin": source.origin}
    with wandb.init(job_type="analysis", config=config, project=os.environ.get("WANDB_PROJECT")) as run:
        run.log(
            {
                **scalars,
                **{name: wandb.Image(Image.open(io.BytesIO(png))) for name, png in images.items()},
                "confusion_matrix": wandb.plot.confusion_matrix(
                    y_true=predictions.y_true[rows].tolist(),
                    preds=predictions.y_pred[rows].tolist(),
                    class_names=names,
                ),
                "roc": wandb.plot.roc_curve(
                    predictions.y_true[rows],
                    predictions.proba[np.ix_(rows, present)],
                    labels=names,
                ),
            }
        )
        run_id = str(run.id)
    return run_id
