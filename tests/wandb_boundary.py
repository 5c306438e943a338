"""The W&B server's side of the network boundary, for tests: records every GraphQL request W&B's own code sends.

No W&B server can run here, so the tests stop at the wire: the real SDK and CLI (``wandb sync``, ``wandb.sweep``)
build and send their requests to this loopback HTTP server, which keeps them and answers just enough for the
client to carry on. What a real server then does with them is not verified.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

SWEEP_NAME = "abcd1234"
ENTITY = "the-entity"


@dataclass
class Recorded:
    """The GraphQL requests received: operation name (or the query's first words) and variables."""

    requests: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def named(self, operation: str) -> list[dict[str, Any]]:
        """The variables of every request of one operation (``UpsertBucket``, ``UpsertSweep``)."""
        return [variables for name, variables in self.requests if name == operation]


def _answer(operation: str, variables: dict[str, Any]) -> dict[str, Any]:
    project = {"id": "UHJvamVjdDox", "name": variables.get("projectName") or variables.get("project") or "p"}
    project["entity"] = {"id": "RW50aXR5OjE=", "name": variables.get("entityName") or variables.get("entity") or ENTITY}
    if operation == "UpsertSweep":
        return {"upsertSweep": {"sweep": {"name": SWEEP_NAME, "project": project}, "configValidationWarnings": []}}
    if operation == "UpsertBucket":
        bucket = {
            "id": "UnVuOjE=",
            "name": variables.get("name"),
            "displayName": variables.get("name"),
            "project": project,
        }
        return {"upsertBucket": {"bucket": bucket, "inserted": True}}
    if "viewer" in operation.lower():
        return {
            "viewer": {"id": "VXNlcjox", "entity": ENTITY, "username": ENTITY, "flags": "{}", "teams": {"edges": []}}
        }
    return {}


def _operation(query: dict[str, Any]) -> str:
    name = query.get("operationName")
    if name:
        return str(name)
    words = str(query.get("query", "")).replace("(", " ").replace("{", " ").split()
    return words[1] if len(words) > 1 else "?"


@contextmanager
def fake_wandb_server() -> Iterator[tuple[str, Recorded]]:
    """A loopback server answering W&B's GraphQL API; yields its base URL and what it received."""
    recorded = Recorded()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            try:
                query = json.loads(body)
            except ValueError:
                query = {}
            queries = query if isinstance(query, list) else [query]
            answers = []
            for one in queries:
                operation, variables = _operation(one), one.get("variables") or {}
                recorded.requests.append((operation, variables))
                answers.append({"data": _answer(operation, variables)})
            self._reply(200, answers if isinstance(query, list) else answers[0])

        def do_GET(self) -> None:
            self._reply(404, {})

        def _reply(self, status: int, payload: Any) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", recorded
    finally:
        server.shutdown()
        server.server_close()
