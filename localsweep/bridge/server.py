"""What ``sync`` asks the W&B server, each question bounded in time: who the key belongs to, which runs exist.

W&B's own client code asks (``wandb.Api``, wandb 0.23.1), so the server is reached the way ``wandb sync`` reaches
it: through ``requests``, which takes ``HTTPS_PROXY``/``HTTP_PROXY``/``NO_PROXY`` from the environment (wandb's
``WANDB__PROXIES`` too). Its public API retries a request that fails or times out for 20 s, and one that never
gets an answer blocks for as long as the server holds the connection; so each question runs in a daemon thread
and is given up when its time is over (the thread ends with the process).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

T = TypeVar("T")
DEFAULT_BASE_URL = "https://api.wandb.ai"
SYNC_TIMEOUT_S = 1800.0
"""The most ``sync`` waits on the W&B server in all, unless ``--timeout`` says otherwise."""
_REQUEST_S = 30  # one request's own timeout (W&B's public API retries it within its 20 s window)


class ServerError(RuntimeError):
    """The W&B server did not answer in time, or refused: the message says which, with its reason."""


@dataclass
class Deadline:
    """The time ``sync`` may spend waiting on the W&B server, in all."""

    seconds: float
    started: float = field(default_factory=time.monotonic)

    def left(self) -> float:
        return max(0.0, self.started + self.seconds - time.monotonic())


def base_url() -> str:
    return os.environ.get("WANDB_BASE_URL", DEFAULT_BASE_URL)


def bounded(work: Callable[[], T], seconds: float, what: str) -> T:
    """``work()``, unless it takes longer than ``seconds``: then :class:`ServerError` (``what`` says what waited).
    An exception ``work`` raises is raised here.

    Raises
    ------
    ServerError
        When the time is over.
    """
    result: dict[str, Any] = {}

    def target() -> None:
        try:
            result["value"] = work()
        except BaseException as err:  # handed to the caller's thread, raised there
            result["error"] = err

    thread = threading.Thread(target=target, name=f"wandb: {what}", daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        raise ServerError(f"{what}: the W&B server ({base_url()}) did not answer within {seconds:.0f} s")
    if "error" in result:
        raise result["error"]
    value: T = result["value"]
    return value


def one_line(err: BaseException) -> str:
    """An error of W&B's client as ``Type: message`` on one line."""
    return f"{type(err).__name__}: {' '.join(str(err).split())}"


def ask(work: Callable[[], T], seconds: float, what: str) -> T:
    """:func:`bounded`, with whatever W&B's client raised (a refused key, an HTTP error, no route) as
    :class:`ServerError`, in one line."""
    try:
        return bounded(work, seconds, what)
    except ServerError:
        raise
    except Exception as err:
        raise ServerError(f"{what}: {one_line(err)}") from err


def _api(seconds: float) -> Any:
    import wandb  # an edge: talks to the W&B server

    return wandb.Api(timeout=max(1, min(_REQUEST_S, int(seconds))))


def default_entity(deadline: Deadline) -> str:
    """The entity of the API key (W&B's ``viewer``): the first question, so a server that is unreachable, silent
    or refuses the key is found before anything is uploaded.

    Raises
    ------
    ServerError
        When the server cannot be reached, does not answer in time, or refuses the key.
    """
    seconds = deadline.left()
    entity = ask(lambda: _api(seconds).default_entity, seconds, "asking the W&B server whose API key this is")
    if not entity:
        raise ServerError("the W&B server knows no entity for this API key: pass --entity")
    return str(entity)


def runs_found(entity: str, project: str, run_ids: list[str], deadline: Deadline) -> set[str]:
    """Which of ``run_ids`` exist as runs of ``ENTITY/PROJECT`` on the server now (one runs query, paged).

    Raises
    ------
    ServerError
        When the server cannot be asked in the time left.
    """
    if not run_ids:
        return set()
    seconds = deadline.left()

    def question() -> set[str]:
        runs = _api(seconds).runs(f"{entity}/{project}", filters={"name": {"$in": run_ids}}, include_sweeps=False)
        try:
            return {str(run.id) for run in runs}
        except ValueError:  # "Could not find project": none of them arrived
            return set()

    return ask(question, seconds, f"asking the W&B server which runs are in {entity}/{project}")
