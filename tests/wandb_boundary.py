"""The W&B server's side of the network boundary, for tests: a loopback server that W&B's own client code talks to.

No W&B server can run here, so the tests stop at the wire: the real SDK, CLI and public API (``wandb sync``,
``wandb.sweep``, ``wandb.Api()``) build and send their requests to this server. It keeps what they send and answers
the operations they need with the response shapes the client parses (its GraphQL queries, pydantic models and
``Attrs`` readers, in wandb 0.23.1):

- writes: ``UpsertBucket`` makes or updates a run, ``POST /files/E/P/RUN/file_stream`` carries its summary and
  exit, ``UpsertSweep`` makes a sweep; prior runs are kept as the filter sent and NOT attached to the sweep (W&B's
  ``Sweep.runs`` asks for runs whose ``sweep`` is the sweep's id, which prior runs are not: wandb/wandb#3347);
- reads: ``Viewer``, ``Sweep``, ``Run``, ``Runs`` (filters ``sweep``, ``name``, ``$in``, ``$and``, ``$or``),
  ``RunOutputArtifacts``, ``FetchArtifactManifest``, ``GetArtifactFileUrls`` and the files themselves;
- faults, per operation: an HTTP status (404, 403, 500 ...) or no answer at all (a hang), for some runs or all;
- a request that comes as to a proxy (``POST http://host/graphql``) is served too, and its host noted.

Introspection probes get an empty schema, so the client takes its fallbacks for older servers. Upload URLs for run
files are not served: what a real server then does with runs, files and sweeps is not verified here.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

SWEEP_NAME = "abcd1234"
ENTITY = "the-entity"
_WHEN = "2026-01-01T00:00:00"


@dataclass
class ServerArtifact:
    """A logged artifact: its files are served as W&B serves them (a manifest, then one URL per file)."""

    id: str
    name: str
    type: str
    entity: str
    project: str
    metadata: dict[str, Any]
    files: dict[str, bytes]

    def manifest(self) -> dict[str, Any]:
        contents = {
            path: {"digest": base64.b64encode(hashlib.md5(data).digest()).decode(), "size": len(data)}
            for path, data in self.files.items()
        }
        return {
            "version": 1,
            "storagePolicy": "wandb-storage-policy-v1",
            "storagePolicyConfig": {"storageLayout": "V2"},
            "contents": contents,
        }

    def fragment(self) -> dict[str, Any]:
        project = {"name": self.project, "entity": {"name": self.entity}}
        return {
            "__typename": "Artifact",
            "id": self.id,
            "artifactSequence": {"__typename": "ArtifactSequence", "name": self.name, "project": project},
            "versionIndex": 0,
            "artifactType": {"name": self.type},
            "description": None,
            "metadata": json.dumps(self.metadata),
            "state": "COMMITTED",
            "size": sum(len(data) for data in self.files.values()),
            "digest": hashlib.md5(json.dumps(self.manifest(), sort_keys=True).encode()).hexdigest(),
            "commitHash": self.id[:12],
            "fileCount": len(self.files),
            "createdAt": _WHEN,
            "updatedAt": None,
        }


@dataclass
class ServerRun:
    """A run as the server holds it."""

    entity: str
    project: str
    name: str
    config: dict[str, Any] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)
    sweep: str | None = None
    state: str = "running"
    artifacts: list[ServerArtifact] = field(default_factory=list)

    def node(self, heavy: bool = True) -> dict[str, Any]:
        """The run as W&B's public API asks for it: its ``RunFragment``, or (``heavy=False``) its
        ``LightweightRunFragment``, which leaves out config, summary and system metrics."""
        light: dict[str, Any] = {
            "id": base64.b64encode(f"Run:{self.entity}/{self.project}/{self.name}".encode()).decode(),
            "tags": [],
            "name": self.name,
            "displayName": self.name,
            "sweepName": self.sweep,
            "state": self.state,
            "group": None,
            "jobType": None,
            "commit": None,
            "readOnly": False,
            "createdAt": _WHEN,
            "heartbeatAt": _WHEN,
            "description": None,
            "notes": None,
            "historyLineCount": 0,
            "user": {"name": ENTITY, "username": ENTITY},
        }
        if not heavy:
            return light
        heavy_fields = {"config": json.dumps(self.config), "summaryMetrics": json.dumps(self.summary)}
        return {**light, **heavy_fields, "systemMetrics": "{}", "historyKeys": None}


@dataclass
class ServerSweep:
    entity: str
    project: str
    name: str
    config: str
    prior_runs_filters: str | None


@dataclass(frozen=True)
class Fault:
    """How the server answers one operation instead: ``status`` (None: never), for the runs ``only`` names."""

    status: int | None
    only: frozenset[str] | None = None

    def applies(self, variables: dict[str, Any]) -> bool:
        run = variables.get("name") or variables.get("run")
        return self.only is None or run in self.only


@dataclass
class FakeWandb:
    """What the server holds and received: GraphQL requests (operation name, variables), runs, sweeps, faults."""

    requests: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    runs: dict[tuple[str, str, str], ServerRun] = field(default_factory=dict)
    sweeps: dict[tuple[str, str, str], ServerSweep] = field(default_factory=dict)
    faults: dict[str, Fault] = field(default_factory=dict)
    proxied_hosts: set[str] = field(default_factory=set)
    """The hosts named by requests that came as to a proxy (absolute-form request targets)."""
    stopping: threading.Event = field(default_factory=threading.Event)

    def named(self, operation: str) -> list[dict[str, Any]]:
        """The variables of every request of one operation (``UpsertBucket``, ``UpsertSweep``, ``Runs``)."""
        return [variables for name, variables in self.requests if name == operation]

    def fail(self, operation: str, status: int | None, only: set[str] | None = None) -> None:
        """Answer ``operation`` (``"*"``: every request) with HTTP ``status`` from now on (None: accept the
        connection and never answer), for the runs ``only`` names (default: all)."""
        self.faults[operation] = Fault(status, None if only is None else frozenset(only))

    def heal(self) -> None:
        """Answer every operation normally again."""
        self.faults.clear()

    def run(self, entity: str, project: str, name: str) -> ServerRun | None:
        return self.runs.get((entity, project, name))

    def add_sweep(self, entity: str, project: str, name: str, config: str) -> None:
        self.sweeps[(entity, project, name)] = ServerSweep(entity, project, name, config, None)

    def add_run(self, run: ServerRun) -> ServerRun:
        self.runs[(run.entity, run.project, run.name)] = run
        return run

    def add_artifact(self, run: ServerRun, name: str, type_: str, files: dict[str, bytes], metadata: dict) -> None:
        artifact_id = base64.b64encode(f"Artifact:{len(self._artifacts()) + 1}".encode()).decode()
        run.artifacts.append(ServerArtifact(artifact_id, name, type_, run.entity, run.project, metadata, files))

    def _artifacts(self) -> dict[str, ServerArtifact]:
        return {a.id: a for run in self.runs.values() for a in run.artifacts}

    # -- answers ---------------------------------------------------------------------------------------------

    def answer(self, operation: str, text: str, variables: dict[str, Any], base: str) -> dict[str, Any]:
        if re.search(r"__type\s*\(", text):
            return _introspection(text, variables)
        handler = _GRAPHQL.get(operation)
        # Anything else (upload URLs for run files) gets no data: the client logs that it could not upload the file
        # and goes on.
        return {} if handler is None else handler(self, variables, _Asked(base, "LightweightRunFragment" not in text))

    def _project(self, variables: dict[str, Any]) -> tuple[str, str]:
        """The ``(entity, project)`` a read names (W&B's default entity when it names none)."""
        return str(variables.get("entity") or ENTITY), str(variables.get("project"))

    def _upsert_bucket(self, variables: dict[str, Any], asked: _Asked) -> dict[str, Any]:
        entity, project = str(variables.get("entity") or ENTITY), str(variables.get("project") or "uncategorized")
        run = self.runs.get((entity, project, variables["name"])) or self.add_run(
            ServerRun(entity, project, variables["name"])
        )
        if variables.get("config"):
            run.config.update(json.loads(variables["config"]))
        if variables.get("summaryMetrics"):
            run.summary.update(json.loads(variables["summaryMetrics"]))
        run.sweep = variables.get("sweep") or run.sweep
        project_info = {"id": "UHJvamVjdDox", "name": project, "entity": {"id": "RW50aXR5OjE=", "name": entity}}
        bucket = {"id": run.node()["id"], "name": run.name, "displayName": run.name, "project": project_info}
        return {"upsertBucket": {"bucket": bucket, "inserted": True}}

    def _upsert_sweep(self, variables: dict[str, Any], asked: _Asked) -> dict[str, Any]:
        entity, project = str(variables.get("entityName") or ENTITY), str(variables.get("projectName"))
        sweep = ServerSweep(entity, project, SWEEP_NAME, variables["config"], variables.get("priorRunsFilters"))
        self.sweeps[(entity, project, SWEEP_NAME)] = sweep
        project_info = {"id": "UHJvamVjdDox", "name": project, "entity": {"id": "RW50aXR5OjE=", "name": entity}}
        return {"upsertSweep": {"sweep": {"name": SWEEP_NAME, "project": project_info}, "configValidationWarnings": []}}

    def _viewer(self, variables: dict[str, Any], asked: _Asked) -> dict[str, Any]:
        teams: dict[str, list[Any]] = {"edges": []}
        viewer = {"id": "VXNlcjox", "entity": ENTITY, "username": ENTITY, "flags": "{}", "teams": teams}
        return {"viewer": {**viewer, "email": None, "admin": False, "apiKeys": {"edges": []}}}

    def _server_info(self, variables: dict[str, Any], asked: _Asked) -> dict[str, Any]:
        versions = {"outOfDate": False, "latestVersionString": "0.0.0", "versionOnThisInstanceString": "0.0.0"}
        cli = {"max_cli_version": "0.23.1", "min_cli_version": "0.0.1"}
        return {"serverInfo": {"features": [], "cliVersionInfo": cli, "latestLocalVersionInfo": versions}}

    def _sweep(self, variables: dict[str, Any], asked: _Asked) -> dict[str, Any]:
        entity, project = self._project(variables)
        sweep = self.sweeps.get((entity, project, str(variables.get("name"))))
        if sweep is None:
            return {"project": None if not self._holds(entity, project) else {"sweep": None}}
        attrs = {"id": f"sweep-{sweep.name}", "name": sweep.name, "displayName": None, "state": "RUNNING"}
        return {"project": {"sweep": {**attrs, "runCountExpected": None, "bestLoss": None, "config": sweep.config}}}

    def _holds(self, entity: str, project: str) -> bool:
        return any(k[:2] == (entity, project) for k in (*self.runs, *self.sweeps))

    def _run(self, variables: dict[str, Any], asked: _Asked) -> dict[str, Any]:
        entity, project = self._project(variables)
        run = self.runs.get((entity, project, str(variables.get("name"))))
        if not self._holds(entity, project):
            return {"project": None}
        return {"project": {"run": None if run is None else run.node(asked.heavy)}}

    def _runs(self, variables: dict[str, Any], asked: _Asked) -> dict[str, Any]:
        entity, project = self._project(variables)
        if not self._holds(entity, project):
            return {"project": None}
        filters = json.loads(variables.get("filters") or "{}")
        found = [r for k, r in self.runs.items() if k[:2] == (entity, project) and _matches(r, filters)]
        edges = [{"node": run.node(asked.heavy), "cursor": run.name} for run in found]
        page = {"endCursor": found[-1].name if found else None, "hasNextPage": False}
        runs = {"edges": edges, "pageInfo": page}
        return {"project": {"internalId": "UHJvamVjdDox", "runCount": len(found), "readOnly": False, "runs": runs}}

    def _run_artifacts(self, variables: dict[str, Any], asked: _Asked) -> dict[str, Any]:
        run = self.runs.get((str(variables["entity"]), str(variables["project"]), str(variables["run"])))
        if run is None:
            return {"project": None}
        page = {"__typename": "PageInfo", "endCursor": None, "hasNextPage": False}
        edges = [{"node": artifact.fragment()} for artifact in run.artifacts]
        return {"project": {"run": {"artifacts": {"totalCount": len(edges), "pageInfo": page, "edges": edges}}}}

    def _manifest(self, variables: dict[str, Any], asked: _Asked) -> dict[str, Any]:
        artifact = self._artifacts().get(str(variables["id"]))
        if artifact is None:
            return {"artifact": None}
        return {"artifact": {"currentManifest": {"file": {"directUrl": f"{asked.base}/manifests/{artifact.id}"}}}}

    def _file_urls(self, variables: dict[str, Any], asked: _Asked) -> dict[str, Any]:
        artifact = self._artifacts().get(str(variables["id"]))
        if artifact is None:
            return {"artifact": None}
        edges = [
            {"node": {"__typename": "File", "name": name, "directUrl": f"{asked.base}/blobs/{artifact.id}/{name}"}}
            for name in artifact.files
        ]
        page = {"__typename": "PageInfo", "endCursor": None, "hasNextPage": False}
        return {"artifact": {"files": {"pageInfo": page, "edges": edges}}}

    def file_stream(self, entity: str, project: str, name: str, body: dict[str, Any]) -> None:
        run = self.runs.get((entity, project, name))
        if run is None:
            return
        summary = (body.get("files") or {}).get("wandb-summary.json")
        if summary and summary.get("content"):
            run.summary.update(json.loads(summary["content"][-1]))
        if body.get("complete"):
            run.state = "finished" if body.get("exitcode") == 0 else "failed"

    def blob(self, path: str) -> bytes | None:
        kind, _, rest = path.strip("/").partition("/")
        artifact_id, _, name = rest.partition("/")
        artifact = self._artifacts().get(artifact_id)
        if artifact is None:
            return None
        if kind == "manifests":
            return json.dumps(artifact.manifest()).encode()
        return artifact.files.get(name) if kind == "blobs" else None


@dataclass(frozen=True)
class _Asked:
    """How a request was asked: the base URL it reached this server by, and whether it wants runs' heavy fields."""

    base: str
    heavy: bool


_GRAPHQL: dict[str, Callable[[FakeWandb, dict[str, Any], _Asked], dict[str, Any]]] = {
    "UpsertBucket": FakeWandb._upsert_bucket,
    "UpsertSweep": FakeWandb._upsert_sweep,
    "Viewer": FakeWandb._viewer,
    "viewer": FakeWandb._viewer,  # `query { viewer { id } }`: the key check of `wandb.login`
    "ServerInfo": FakeWandb._server_info,
    "ServerFeaturesQuery": FakeWandb._server_info,
    "Sweep": FakeWandb._sweep,
    "Run": FakeWandb._run,
    "Runs": FakeWandb._runs,
    "RunOutputArtifacts": FakeWandb._run_artifacts,
    "FetchArtifactManifest": FakeWandb._manifest,
    "GetArtifactFileUrls": FakeWandb._file_urls,
}


def _introspection(text: str, variables: dict[str, Any]) -> dict[str, Any]:
    """``__type`` probes (``ProjectType: __type(name: "Project")``, ``__type(name: $name)``), answered as an older
    server that has none of the optional fields: the client then leaves them out of its queries."""
    probes = re.findall(r"(?:(\w+)\s*:\s*)?__type\s*\(\s*name\s*:\s*(?:\"(\w+)\"|\$(\w+))", text)
    return {
        alias or "__type": {"name": name or variables.get(variable), "fields": [], "inputFields": []}
        for alias, name, variable in probes
    }


def _matches(run: ServerRun, filters: dict[str, Any]) -> bool:
    """W&B's run filters (MongoDB-like), the part the clients here send."""
    for key, want in filters.items():
        if key == "$and":
            ok = all(_matches(run, part) for part in want)
        elif key == "$or":
            ok = any(_matches(run, part) for part in want)
        elif key in ("sweep", "name", "state"):
            value = {"sweep": run.sweep, "name": run.name, "state": run.state}[key]
            ok = value in want["$in"] if isinstance(want, dict) else value == want
        else:
            raise ValueError(f"this fake W&B server does not know the run filter {key!r}")
        if not ok:
            return False
    return True


def _operation(query: dict[str, Any]) -> str:
    """The operation's name, else (an anonymous ``{ viewer { id } }``) its first field."""
    if query.get("operationName"):
        return str(query["operationName"])
    text = re.sub(r"#[^\n]*", "", str(query.get("query", "")))
    named = re.match(r"\s*(?:query|mutation)\s+(\w+)", text)
    first = re.search(r"\{\s*(\w+)", text)
    return named.group(1) if named else first.group(1) if first else "?"


_FILE_STREAM = re.compile(r"^/files/([^/]+)/([^/]+)/([^/]+)/file_stream$")


@contextmanager
def fake_wandb_server() -> Iterator[tuple[str, FakeWandb]]:
    """A loopback server answering W&B's API; yields its base URL and its state (what it holds and received)."""
    state = FakeWandb()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _target(self) -> str:
            target = urlsplit(self.path)
            if target.scheme:  # absolute form: the client took this server for its proxy
                state.proxied_hosts.add(target.netloc)
            return target.path

        def do_POST(self) -> None:
            path = self._target()
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            try:
                query = json.loads(body)
            except ValueError:
                query = {}
            stream = _FILE_STREAM.match(path)
            if stream:
                if self._faulted("file_stream", {"name": stream.group(3)}):
                    return
                entity, project, name = stream.groups()
                state.file_stream(entity, project, name, query)
                self._reply(200, {})
                return
            if not path.endswith("/graphql"):
                self._reply(200, {})
                return
            queries = query if isinstance(query, list) else [query]
            answers = []
            for one in queries:
                operation, variables = _operation(one), one.get("variables") or {}
                state.requests.append((operation, variables))
                if self._faulted(operation, variables):
                    return
                try:
                    base = f"http://{self.headers['Host']}"
                    answers.append({"data": state.answer(operation, str(one.get("query", "")), variables, base)})
                except ValueError as err:
                    self._reply(400, {"errors": [{"message": str(err)}]})
                    return
            self._reply(200, answers if isinstance(query, list) else answers[0])

        def _faulted(self, operation: str, variables: dict[str, Any]) -> bool:
            fault = state.faults.get(operation) or state.faults.get("*")
            if fault is None or not fault.applies(variables):
                return False
            if fault.status is None:
                state.stopping.wait()  # accept, read, never answer (a proxy or captive portal gone quiet)
                self.close_connection = True
                return True
            self._reply(fault.status, {"errors": [{"message": f"{operation} refused: {fault.status}"}]})
            return True

        def do_GET(self) -> None:
            path = self._target()
            if self._faulted("GET", {}):
                return
            data = state.blob(path)
            if data is None:
                self._reply(404, {"errors": [{"message": "not found"}]})
                return
            self._send(200, data, "application/octet-stream")

        def _reply(self, status: int, payload: Any) -> None:
            self._send(status, json.dumps(payload).encode(), "application/json")

        def _send(self, status: int, data: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", state
    finally:
        state.stopping.set()
        server.shutdown()
        server.server_close()
