"""``python -m localsweep dashboard``: find the sweeps, listen, print where, and serve until Ctrl-C or SIGTERM.

uvicorn serves the application (pure Python: its h11 protocol, no compiled extras). The socket is bound here,
before uvicorn starts, so that port 0 (any free port) prints the port it got and a port in use is said at once.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
import socket
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from localsweep.dashboard.catalog import Catalog

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8050
TOKEN_VAR = "LOCALSWEEP_DASHBOARD_TOKEN"
SHUTDOWN_S = 2
"""How long open pages get to go when the dashboard stops (their event streams are cut then)."""


@dataclass(frozen=True)
class Options:
    """What ``dashboard`` was asked to show, and where to listen."""

    name: str | None
    root: Path
    storage: str | None
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    token: str | None = None


def is_loopback(host: str) -> bool:
    """Whether ``host`` (an address or ``localhost``) is reachable from this machine only.

    >>> is_loopback("127.0.0.1"), is_loopback("::1"), is_loopback("localhost"), is_loopback("0.0.0.0")
    (True, True, True, False)
    """
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: whatever it resolves to may change


def choose_token(host: str, given: str | None) -> tuple[str | None, bool]:
    """The token every request must carry (None: none) and whether it was generated here (then it is printed).

    ``given`` (``--token``), else ``$LOCALSWEEP_DASHBOARD_TOKEN``, is required wherever the dashboard listens; off
    the loopback, one is generated when neither is set.
    """
    token = given or os.environ.get(TOKEN_VAR) or None
    if token is not None or is_loopback(host):
        return token, False
    return secrets.token_urlsafe(24), True


def listen(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host``:``port`` (IPv4 or IPv6; port 0: any free one).

    Raises
    ------
    OSError
        When the address cannot be had (in use, not this machine's, a port below 1024 without the right).
    """
    family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    return sock


def serve(options: Options, imported: Callable[[], None] = lambda: None) -> int:
    """Serve the dashboard until stopped; returns the exit code. ``imported`` is called once the web libraries are
    imported, before anything starts: the command line acts there on a stop that came during that import (uvicorn's
    own signal handlers come later, and would never hear of it).

    Raises
    ------
    FileNotFoundError
        When the sweep named does not exist.
    OSError
        When the address cannot be listened on.
    """
    import uvicorn

    from localsweep.dashboard.app import create_app

    imported()
    token, generated = choose_token(options.host, options.token)
    catalog = Catalog(options.root, options.storage, options.name)
    catalog.start()
    try:
        sock = listen(options.host, options.port)
    except OSError:
        catalog.stop()
        raise
    port = int(sock.getsockname()[1])
    app = create_app(catalog, token, cookie=f"localsweep_dashboard_{port}")
    where = f"in {options.storage.split('@')[-1]}" if options.storage else f"under {options.root}/"
    shown = f"sweep {options.name}" if options.name else f"every sweep {where}"
    wildcard = options.host in ("0.0.0.0", "::", "")
    address = "127.0.0.1" if wildcard else f"[{options.host}]" if ":" in options.host else options.host
    url = f"http://{address}:{port}/"
    print(f"dashboard of {shown}: {url}" + (" (and this machine's other addresses)" if wildcard else ""), flush=True)
    if generated:
        print(f"its token (printed once; --token or ${TOKEN_VAR} chooses one): {url}?token={token}", flush=True)
    elif token is not None:
        print(f"every request needs the token given (--token or ${TOKEN_VAR}): {url}?token=TOKEN", flush=True)
    else:
        print("read-only, on the loopback only: nobody off this machine can open it", flush=True)
    config = uvicorn.Config(
        app, log_level="warning", access_log=False, timeout_graceful_shutdown=SHUTDOWN_S, lifespan="on"
    )
    try:
        # On SIGINT or SIGTERM uvicorn closes the connections, then ends the process by that signal (exit 130
        # or 143, as the engine's commands).
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        catalog.stop()
        sock.close()
    return 0
