"""The controller role: the one process, anywhere, that decides for the whole sweep.

Whoever holds the sweep's lease (``localsweep/storage/lease.py``) — the agent started by ``run``/``resume``, or any
agent that takes a dead holder's place — does, on every pass of its loop (:meth:`Controller.tick`):

- give up the trials of agents that died (no heartbeat, or a gone process on this host): each is recorded through
  the one outcome path as interrupted, so its grid point runs again;
- judge the running trials by early termination (W&B's hyperband, on the history their agents push), asking
  their agents to stop them, or letting trials that wait at a rung go on;
- turn idle capacity into suggestions: one pending trial per slot that an agent says it would fill, while the
  budget (``run_cap``, the grid, ``metric.target``) allows — a suggestion is a stored row, made under the lease,
  so a new controller never repeats or loses one;
- end the sweep when nothing is left: no suggestion to make, nothing pending or running.

It keeps no state of its own beyond the reason it stopped suggesting: everything else is in the store.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterable, Sequence

from wandb.sdk.lib.runid import generate_id

from localsweep.core.trial import CRASHED, PENDING, RUNNING, Trial
from localsweep.outcome.decide import Ending
from localsweep.outcome.record import record_ending
from localsweep.run.orphans import end_orphans
from localsweep.search import suggest
from localsweep.storage import lease
from localsweep.storage.cache import TrialCache
from localsweep.storage.store import AgentInfo, SweepStore

AGENT_TIMEOUT_S = lease.STALE_AFTER_S
"""An agent on another host with no heartbeat for this long is dead: its running trials are given up."""


class Controller:
    """The decisions of the controller role over ``store`` (whose lease the caller holds)."""

    def __init__(
        self,
        store: SweepStore,
        *,
        search_options: suggest.SearchOptions,
        max_initial_failures: int,
        event: Callable[[str], None],
    ) -> None:
        self.store = store
        self.config = store.config
        self.search_options = search_options
        self.max_initial_failures = max_initial_failures
        self.event = event
        self.exhausted: str | None = None  # why no more suggestions are made

    def tick(self, cache: TrialCache, agents: Sequence[AgentInfo]) -> None:
        """One pass of the role's duties over the trials in ``cache`` and the agents. Only what changed is looked
        at again: early termination after a trial changed, suggestions while an agent has room for a trial."""
        if self.reclaim(cache.in_state(RUNNING).values(), agents):
            cache.refresh()
        if suggest.stops_early(self.config) and cache.changed:
            self.early_terminate(cache.all())
        pending = len(cache.in_state(PENDING))
        demand = sum(a.idle for a in agents if a.left_at is None) - pending
        if demand > 0 or (self.exhausted is not None and not pending and not cache.in_state(RUNNING)):
            self.suggest(cache, demand)

    def reclaim(self, running: Iterable[Trial], agents: Sequence[AgentInfo]) -> list[Trial]:
        """Record the ``running`` trials of dead agents (and of stores from before agents) as interrupted."""
        now = time.time()
        alive = {
            a.agent_id
            for a in agents
            if a.left_at is None
            and lease.dead_because(dataclasses.replace(a.holder(), heartbeat_at=self.store.seen(a.heartbeat_at)), now)
            is None
        }
        dead = [t for t in running if t.state == RUNNING and t.agent not in alive]
        if not dead:
            return []
        here = lease.hostname()
        end_orphans(self.store.sweep_id, [t for t in dead if t.host in (here, None)])  # nothing may still write
        endings = [record_ending(self.store, t.run_id, Ending(process=None, interrupted=True)) for t in dead]
        recorded = [ending[0] for ending in endings if ending is not None]
        for trial in recorded:
            self.event(f"trial {trial.number} {trial.run_id} of a dead agent ({trial.agent}): recorded {trial.state}")
        return recorded

    def early_terminate(self, trials: Sequence[Trial]) -> None:
        """Ask the agents of trials that hyperband (or a custom sweep's pruner) would stop to stop them; let the
        others go past their rung."""
        running = {t.run_id: t for t in trials if t.state == RUNNING and not t.stop_requested}
        live = {run_id: t.history for run_id, t in running.items()}
        rule = "Optuna's pruner" if suggest.is_custom(self.config) else "hyperband"
        for run_id in suggest.runs_to_stop(self.config, live, trials, self.search_options):
            self.store.request_stop(run_id)
            self.event(f"{rule}: stopping {run_id}")
            running.pop(run_id)
        judged = {run_id: len(t.history) for run_id, t in running.items() if len(t.history) > t.decided}
        self.store.set_decided(list(judged), list(judged.values()))

    def suggest(self, cache: TrialCache, demand: int) -> None:
        """Make up to ``demand`` pending trials (the idle slots the agents announced), while the budget allows; end
        the sweep when there is nothing left to suggest and nothing pending or running."""
        while demand > 0 and self.exhausted is None:
            self.exhausted = self._budget_reason(cache)
            if self.exhausted is not None:
                break
            params = suggest.suggest(self.config, cache.all(), self.search_options)
            if params is None:
                self.exhausted = suggest.exhausted(self.config)
                break
            self.store.add_pending(generate_id(), params)
            cache.refresh()
            demand -= 1
        if self.exhausted is not None and not cache.in_state(PENDING) and not cache.in_state(RUNNING):
            self.store.end_sweep(self.exhausted, exit_code=None, interrupt=False)

    def _budget_reason(self, cache: TrialCache) -> str | None:
        cap = self.config.get("run_cap")
        if cap is not None and cache.searched >= cap:
            return f"run_cap {cap} reached"
        if cache.reached is not None:
            return f"metric.target {self.config['metric']['target']} reached by {cache.reached.run_id}"
        failed = cache.counts[CRASHED]
        if failed >= self.max_initial_failures and not cache.any_succeeded:
            return (
                f"{failed} trials failed and none succeeded: stopping (see the errors with "
                f"`python -m localsweep status {self.store.name}`)"
            )
        return None
