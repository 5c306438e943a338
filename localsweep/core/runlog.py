"""Read an offline wandb run from its ``.wandb`` record log.

Offline, wandb writes config, history, summary and artifact manifests only into ``run-<id>.wandb`` (a LevelDB-style
log of ``wandb_internal_pb2.Record`` protobufs in 32 KiB blocks); there is no ``config.yaml`` or summary file until
``wandb sync``. wandb's own ``DataStore`` reader opens the file for writing and asserts on a torn tail, so this
module reads the same format read-only and treats a torn tail as "still being written". A run that has no such log
here (an online run's files, or a run downloaded from W&B) is read from the files W&B keeps of it instead
(:func:`read_record`).
"""

from __future__ import annotations

import json
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import yaml

if TYPE_CHECKING:  # wandb (2-3 s to import) only where a run log is read: RunRecord alone needs none of it
    from wandb.proto import wandb_internal_pb2 as pb

from contract import predictions as predictions_schema

_HEADER = struct.pack("<4sHB", b":W&B", 0xBEE1, 0)
_BLOCK = 32768
_RECORD_HEADER = 7
_FULL, _FIRST, _MIDDLE, _LAST = 1, 2, 3, 4
_TYPE_CRC = {t: zlib.crc32(bytes([t])) & 0xFFFFFFFF for t in (_FULL, _FIRST, _MIDDLE, _LAST)}


@dataclass(frozen=True)
class ArtifactRecord:
    """An artifact logged by the run: its name, type and files (logical path -> local file)."""

    name: str
    type: str
    entries: dict[str, Path]


@dataclass(frozen=True)
class RunRecord:
    """Everything an offline run logged, as plain Python values."""

    run_id: str
    run_dir: Path
    config: dict[str, Any]
    history: list[dict[str, Any]]
    summary: dict[str, Any]
    artifacts: list[ArtifactRecord] = field(default_factory=list)
    exit_code: int | None = None
    project: str | None = None
    sweep_id: str | None = None
    entity: str | None = None
    """The W&B entity the run was started for (``WANDB_ENTITY``, ``wandb.init(entity=...)``), if any."""
    kind: Literal["log", "files"] = "log"
    """Read from the ``.wandb`` log, or from W&B's files of the run (no exit record: ``exit_code`` is None)."""

    @property
    def finished(self) -> bool:
        """True once the run's exit record is on disk."""
        return self.exit_code is not None

    def artifact(self, type_: str) -> ArtifactRecord | None:
        """The last artifact of a type (``"predictions"``, ``"model"``), or None."""
        matches = [a for a in self.artifacts if a.type == type_]
        return matches[-1] if matches else None


def iter_records(path: Path) -> list[pb.Record]:
    """Every complete record in a ``.wandb`` log; a torn tail (a run still writing) is skipped."""
    from wandb.proto import wandb_internal_pb2 as pb

    data = path.read_bytes()
    if not data.startswith(_HEADER):
        raise ValueError(f"{path} is not a wandb record log: its header is {data[:7]!r}, expected {_HEADER!r}")
    records: list[pb.Record] = []
    pos, chunks = len(_HEADER), b""
    while pos + _RECORD_HEADER <= len(data):
        space_left = _BLOCK - pos % _BLOCK
        if space_left < _RECORD_HEADER:  # block trailer: zero padding
            pos += space_left
            continue
        checksum, length, kind = struct.unpack_from("<IHB", data, pos)
        payload = data[pos + _RECORD_HEADER : pos + _RECORD_HEADER + length]
        if kind not in _TYPE_CRC or len(payload) < length:
            break  # torn or unwritten tail
        if zlib.crc32(payload, _TYPE_CRC[kind]) & 0xFFFFFFFF != checksum:
            break
        pos += _RECORD_HEADER + length
        chunks = payload if kind in (_FULL, _FIRST) else chunks + payload
        if kind in (_FULL, _LAST):
            record = pb.Record()
            record.ParseFromString(chunks)
            records.append(record)
            chunks = b""
    return records


def _key(item: Any) -> str:
    return item.key or "/".join(item.nested_key)


def read_run(run_dir: Path) -> RunRecord:
    """Read an offline run directory (``.../wandb/offline-run-<ts>-<id>``).

    Raises
    ------
    FileNotFoundError
        If the directory holds no ``run-<id>.wandb`` log.
    """
    logs = sorted(Path(run_dir).glob("run-*.wandb"))
    if not logs:
        raise FileNotFoundError(f"no run-*.wandb record log in {run_dir}: is it a wandb offline run directory?")
    run_id = logs[0].stem.removeprefix("run-")
    config: dict[str, Any] = {}
    history: list[dict[str, Any]] = []
    summary: dict[str, Any] = {}
    artifacts: list[ArtifactRecord] = []
    exit_code: int | None = None
    project = sweep_id = entity = None
    for record in iter_records(logs[0]):
        kind = record.WhichOneof("record_type")
        if kind == "run":
            project, sweep_id = record.run.project or None, record.run.sweep_id or None
            entity = record.run.entity or None
            config.update(_config_items(record.run.config.update))
        elif kind == "config":
            config.update(_config_items(record.config.update))
            for item in record.config.remove:
                config.pop(_key(item), None)
        elif kind == "history":
            history.append({_key(i): json.loads(i.value_json) for i in record.history.item})
        elif kind == "summary":
            summary.update({_key(i): json.loads(i.value_json) for i in record.summary.update})
            for item in record.summary.remove:
                summary.pop(_key(item), None)
        elif kind == "artifact":
            entries = {e.path: Path(e.local_path) for e in record.artifact.manifest.contents}
            artifacts.append(ArtifactRecord(record.artifact.name, record.artifact.type, entries))
        elif kind == "exit":
            exit_code = record.exit.exit_code
    return RunRecord(run_id, Path(run_dir), config, history, summary, artifacts, exit_code, project, sweep_id, entity)


def _config_items(items: Any) -> dict[str, Any]:
    values = {_key(i): json.loads(i.value_json) for i in items}
    # wandb stores each config value as {"value": v, "desc": ...}; internal keys start with "_".
    return {
        k: v["value"] if isinstance(v, dict) and "value" in v else v for k, v in values.items() if not k.startswith("_")
    }


_FILES = ("config.yaml", "wandb-summary.json")


def read_record(run_dir: Path) -> RunRecord:
    """A run's record: its ``.wandb`` log (an offline run, or the local copy an online run keeps), else the files
    W&B keeps of a run, in the folder or its ``files/`` (an online run's, or one downloaded from W&B):
    ``config.yaml``, ``wandb-summary.json`` and, where there is one, ``wandb-history.jsonl``.

    Raises
    ------
    FileNotFoundError
        If the folder holds neither.
    """
    run_dir = Path(run_dir)
    if any(run_dir.glob("run-*.wandb")):
        return read_run(run_dir)
    folder = next((f for f in (run_dir, run_dir / "files") if (f / _FILES[0]).is_file()), None)
    if folder is None:
        raise FileNotFoundError(
            f"{run_dir} must be a wandb run directory (with a run-*.wandb log, or W&B's {' and '.join(_FILES)}), "
            f"but it has neither"
        )
    raw = yaml.safe_load((folder / "config.yaml").read_text(encoding="utf-8")) or {}
    config = {
        k: v["value"] if isinstance(v, dict) and "value" in v else v
        for k, v in raw.items()
        if not str(k).startswith("_") and k != "wandb_version"
    }
    summary_path, history_path = folder / _FILES[1], folder / "wandb-history.jsonl"
    summary = json.loads(summary_path.read_text(encoding="utf-8")) if summary_path.is_file() else {}
    history = []
    if history_path.is_file():
        history = [json.loads(line) for line in history_path.read_text(encoding="utf-8").splitlines() if line.strip()]
    run_id = run_dir.name.rsplit("-", 1)[-1]
    return RunRecord(run_id, run_dir, config, history, summary, kind="files")


def predictions_file(record: RunRecord) -> Path | None:
    """The run's predictions table on this host: its ``predictions`` artifact's file, else ``predictions.csv`` in
    its files; None when there is none."""
    artifact = record.artifact(predictions_schema.ARTIFACT_TYPE)
    candidates = list(artifact.entries.values()) if artifact else []
    candidates += [folder / predictions_schema.FILE_NAME for folder in (record.run_dir / "files", record.run_dir)]
    return next((path for path in candidates if path.is_file()), None)
