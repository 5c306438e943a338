"""The dashboard's web application (Starlette): one page, its scripts, Plotly.js, and a small read-only API.

=====================================  ==================================================================
``GET /``                              the page (``static/index.html``); its views are ``#/``, ``#/sweep/NAME``
                                       and ``#/sweep/NAME/trial/RUN_ID``
``GET /api/events``                    server-sent events: the sweeps and where each stands, again on change
``GET /api/sweeps/NAME/events``        server-sent events: the sweep (a snapshot), then only what changed
``GET /api/sweeps/NAME/trials/ID``     one trial: its record, the end of its log, the report commands
``GET /api/sweeps/NAME/importance``    Optuna's parameter importance over the scored trials
=====================================  ==================================================================
"""

from __future__ import annotations

import asyncio
import importlib.metadata
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio.to_thread
from sse_starlette import EventSourceResponse
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from localsweep.dashboard.auth import TokenGate
from localsweep.dashboard.catalog import Catalog
from localsweep.dashboard.detail import detail
from localsweep.dashboard.feed import Feed, Push
from localsweep.dashboard.importance import importances

STATIC = Path(__file__).with_name("static")
PING_S = 15
"""A comment line this often keeps proxies from closing a quiet event stream."""
BACKLOG = 200
"""Events queued for a page that does not read them; past that it is dropped, and its browser reconnects (and
gets a new snapshot)."""
HEADERS = {
    # Plotly.js compiles its WebGL code with `new Function` (parallel coordinates) and sets inline styles.
    "content-security-policy": "default-src 'self'; script-src 'self' 'unsafe-eval'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
    "form-action 'none'",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
}


def plotly_js() -> Path:
    """The ``plotly.min.js`` bundled in the plotly wheel (found without importing the package)."""
    return Path(str(importlib.metadata.distribution("plotly").locate_file("plotly/package_data/plotly.min.js")))


def create_app(catalog: Catalog, token: str | None, cookie: str) -> Starlette:
    """The application over ``catalog`` (started by the caller and stopped when the application shuts down)."""
    cache: dict[str, tuple[int, dict[str, Any]]] = {}  # each sweep's importance, by its scored changes
    computing: dict[str, asyncio.Lock] = {}

    def feed(request: Request) -> Feed:
        return catalog.feed(request.path_params["name"])

    async def page(request: Request) -> Response:
        return FileResponse(STATIC / "index.html")

    async def plotly(request: Request) -> Response:
        return FileResponse(plotly_js(), headers={"cache-control": "max-age=86400"})

    async def sweeps(request: Request) -> Response:
        return JSONResponse(catalog.sweeps())

    async def sweeps_events(request: Request) -> Response:
        return await _events(catalog.subscribe, catalog.unsubscribe)

    async def sweep_events(request: Request) -> Response:
        found = feed(request)
        return await _events(found.subscribe, found.unsubscribe)

    async def trial(request: Request) -> Response:
        found = feed(request)
        record, history = found.trial(request.path_params["run_id"])
        best = (found.state.get("best") or {}).get("run_id")
        log = found.view.layout.log_path(record.run_id)
        args = (record, history, log, found.about["name"], best, catalog.root, catalog.storage)
        return JSONResponse(await anyio.to_thread.run_sync(detail, *args))

    async def importance(request: Request) -> Response:
        found = feed(request)
        name = found.about["name"]
        async with computing.setdefault(name, asyncio.Lock()):  # seconds at 10,000 trials: one at a time
            scored, trials = found.scored_trials()
            if name not in cache or cache[name][0] != scored:
                result = await anyio.to_thread.run_sync(importances, found.view.config, found.view.goal, trials)
                cache[name] = (scored, result)
            return JSONResponse(cache[name][1])

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            catalog.stop()

    routes = [
        Route("/", page),
        Route("/vendor/plotly.min.js", plotly),
        Mount("/static", StaticFiles(directory=STATIC)),
        Route("/api/sweeps", sweeps),
        Route("/api/events", sweeps_events),
        Route("/api/sweeps/{name}/events", sweep_events),
        Route("/api/sweeps/{name}/trials/{run_id}", trial),
        Route("/api/sweeps/{name}/importance", importance),
    ]
    return Starlette(
        routes=routes,
        middleware=[Middleware(TokenGate, token=token, cookie=cookie), Middleware(Headers)],
        exception_handlers={KeyError: _not_found},
        lifespan=lifespan,
    )


async def _events(subscribe: Callable[[Push], str], unsubscribe: Callable[[Push], None]) -> Response:
    """An event stream: what ``subscribe`` returns first, then each event the polling thread pushes."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[str | None] = asyncio.Queue()

    def offer(event: str) -> None:
        if queue.qsize() < BACKLOG:
            queue.put_nowait(event)
        elif queue.qsize() == BACKLOG:
            queue.put_nowait(None)  # too far behind: end the stream

    def push(event: str) -> None:
        loop.call_soon_threadsafe(offer, event)

    first = await anyio.to_thread.run_sync(subscribe, push)

    async def stream() -> AsyncIterator[dict[str, str]]:
        try:
            yield {"data": first}
            while (event := await queue.get()) is not None:
                yield {"data": event}
        finally:
            unsubscribe(push)

    return EventSourceResponse(stream(), ping=PING_S, headers={"cache-control": "no-store"})


async def _not_found(request: Request, exc: Exception) -> Response:
    return JSONResponse({"error": str(exc)}, status_code=404)


class Headers:
    """ASGI middleware: the security headers of :data:`HEADERS` on every response (the plotly file may be kept)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {bytes(k).lower() for k, _ in message.get("headers", [])}
                extra = [(k.encode(), v.encode()) for k, v in HEADERS.items() if k.encode() not in present]
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, with_headers)
