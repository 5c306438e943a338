"""An agent as its sweep knows it: registered, heartbeating, saying how many more trials it would take, and taking
the controller role when the holder is dead (or giving it up when another took it over)."""

from __future__ import annotations

import time
from collections.abc import Callable

from wandb.sdk.lib.runid import generate_id

from localsweep.run.controller import Controller
from localsweep.storage import lease
from localsweep.storage.cache import TrialCache
from localsweep.storage.lease import LeaseLostError, SweepBusyError
from localsweep.storage.store import AgentInfo, SweepStore


class Membership:
    """This process's place in the sweep in ``store``; ``role`` is the controller role while it holds it."""

    def __init__(
        self,
        store: SweepStore,
        *,
        slots: int,
        workdir: str,
        make_role: Callable[[], Controller],
        event: Callable[[str], None],
    ) -> None:
        self._store = store
        self._make_role = make_role
        self._event = event
        me = lease.this_process()
        now = time.time()
        self.info = AgentInfo(
            f"{me.host}-{me.pid}-{generate_id(4)}", me.host, me.pid, me.pid_started, workdir, now, now, slots, 0, None
        )
        self.seat = store.seat(self.info)
        self.role: Controller | None = make_role() if store.holds_lease else None
        self._idle = -1

    @property
    def agent_id(self) -> str:
        """How the store knows this agent."""
        return self.info.agent_id

    def join(self) -> None:
        """Register with the sweep."""
        self.seat.join()

    def leave(self) -> None:
        """Say this agent has ended (its trials are recorded) and give the role back."""
        self.seat.leave()
        self._store.release_lease()

    def heartbeat(self, idle: int, stopping: bool) -> None:
        """Prove this agent (and the role) alive; a stopping agent never takes the role over."""
        if self.role is not None:
            try:
                self._store.heartbeat()
            except LeaseLostError as err:
                self._lose(err)
        elif not stopping:
            self._take_over_if_dead()
        self.announce(idle, force=True)

    def _take_over_if_dead(self) -> None:
        holder, dead = self._store.controller()
        if holder is not None and dead is None:
            return
        try:
            taken = self._store.acquire_lease()
        except SweepBusyError:
            return  # another agent was quicker
        self.role = self._make_role()
        was = f" from {taken[0].describe(time.time())}: {taken[1]}" if taken else ""
        self._event(f"agent {self.agent_id} took the controller role{was}")

    def announce(self, idle: int, force: bool = False) -> None:
        """Tell the controller how many more trials this agent would take now (at once when that changes)."""
        if force or idle != self._idle:
            self.seat.heartbeat(idle)
            self._idle = idle

    def duties(self, cache: TrialCache) -> None:
        """The controller's duties for one pass (the caller checked that this agent holds the role)."""
        assert self.role is not None  # for mypy: the caller checked
        try:
            self.role.tick(cache, self._store.agents())
        except LeaseLostError as err:
            self._lose(err)

    def _lose(self, err: LeaseLostError) -> None:
        self.role = None
        self._event(f"{err}; this agent goes on running trials")
