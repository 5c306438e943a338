"""Who may read the dashboard: anyone on this machine when it listens on the loopback only; elsewhere, only who
holds its token.

The token arrives once in the address the dashboard prints (``/?token=...``), which sets an HTTP-only,
same-site cookie and drops it from the address bar; scripts send ``Authorization: Bearer TOKEN``. Anything else
is refused with 401. On the loopback without a token, requests must still name a loopback host (``Host:``), so a
web page elsewhere cannot reach the dashboard by pointing its own domain name at 127.0.0.1 (DNS rebinding).
"""

from __future__ import annotations

import secrets
from urllib.parse import urlencode

from starlette.requests import HTTPConnection
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")


class TokenGate:
    """ASGI middleware: ``token`` (None: the loopback-host check only) guards every request to ``app``."""

    def __init__(self, app: ASGIApp, token: str | None, cookie: str) -> None:
        self.app = app
        self.token = token
        self.cookie = cookie

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        response = self._refusal(HTTPConnection(scope))
        if response is None:
            await self.app(scope, receive, send)
        else:
            await response(scope, receive, send)

    def _refusal(self, request: HTTPConnection) -> Response | None:
        if self.token is None:
            host = (request.url.hostname or "").strip("[]")
            return None if host in LOOPBACK_NAMES else PlainTextResponse(f"host {host!r} refused", status_code=400)
        offered = request.query_params.get("token")
        if offered is not None and secrets.compare_digest(offered.encode(), self.token.encode()):
            query = urlencode([(k, v) for k, v in request.query_params.multi_items() if k != "token"])
            response = RedirectResponse(request.url.path + (f"?{query}" if query else ""), status_code=303)
            response.set_cookie(self.cookie, self.token, httponly=True, samesite="strict")
            return response
        for candidate in (request.cookies.get(self.cookie), _bearer(request.headers.get("authorization"))):
            if candidate is not None and secrets.compare_digest(candidate.encode(), self.token.encode()):
                return None
        return PlainTextResponse(
            "401: this dashboard needs its token: open the address it printed (/?token=...), "
            "or send `Authorization: Bearer TOKEN`",
            status_code=401,
            headers={"WWW-Authenticate": "Bearer"},
        )


def _bearer(header: str | None) -> str | None:
    scheme, _, value = (header or "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None
