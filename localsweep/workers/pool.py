"""Pooled mode: long-lived worker processes that import the train function once and run many trials.

This is what ``wandb.agent(function=...)`` does in one process, minus its known failure (memory growing run
after run, wandb #1247/#4684): each worker runs at most ``max_trials`` trials and is then replaced, and
``wandb.teardown()`` follows every trial (without it, every run in a process after the first got the first run's
config: measured with wandb 0.23.1).

Stopping a trial (early termination, or the sweep stopping): the controller sends SIGUSR1; the worker's handler
raises :class:`TrialStopped` in the main thread (the one running the function), the worker finishes the wandb
run with exit code 143 (what a run that received the agent's SIGTERM reports) and reports that exit code.
:class:`TrialStopped` derives from BaseException so a train function's ``except Exception`` cannot swallow it.
"""

from __future__ import annotations

import contextlib
import importlib
import multiprocessing
import os
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from multiprocessing import resource_tracker
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from localsweep.workers.handoff import TrialTask
from localsweep.workers.inject import sitecustomize as live_history
from localsweep.workers.slot import Outcome, crash_report, describe_exit, log_tail

STOPPED_EXIT_CODE = 143  # 128 + SIGTERM
_in_trial = threading.Event()  # the trial's function runs: a stop request raises TrialStopped in it
_stop_asked = threading.Event()  # a stop request came for the current trial


class TrialStopped(BaseException):
    """Raised inside a pooled trial when the sweep stops it early (hyperband)."""


def resolve_function(reference: str) -> Callable[[], Any]:
    """Import ``"package.module:callable"`` and return the callable.

    Raises
    ------
    ValueError
        When ``reference`` is not of the form ``module:callable`` or the attribute is not callable.
    """
    module_name, _, attribute = reference.partition(":")
    if not module_name or not attribute:
        raise ValueError(f"--function must look like 'package.module:callable', but got {reference!r}")
    target: Any = importlib.import_module(module_name)
    for part in attribute.split("."):
        target = getattr(target, part)
    if not callable(target):
        raise ValueError(f"--function {reference!r} names a {type(target).__name__}, not a callable")
    return target


def _on_stop_signal(signum: int, frame: Any) -> None:
    _stop_asked.set()
    if _in_trial.is_set():
        _in_trial.clear()
        raise TrialStopped


def _exit_with_parent(parent: int) -> None:
    # A controller killed with -9 cannot end its workers: they notice the new parent and leave on their own.
    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(1)


@contextmanager
def _output_to(path: Path) -> Iterator[None]:
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    with path.open("ab") as log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
    try:
        yield
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        for fd, copy in zip((1, 2), saved, strict=True):
            os.dup2(copy, fd)
            os.close(copy)


def _run_trial(reference: str, task: TrialTask) -> Outcome:
    import wandb  # the worker is an edge: it runs the user's wandb code

    environment = task.process_environment(os.environ)
    for name in set(os.environ) - set(environment):
        del os.environ[name]
    os.environ.update(environment)
    # The error of a failed trial: its traceback, or (None) the end of its output, which the slot reads.
    code, error = 0, None
    with _output_to(task.log_path):
        _stop_asked.clear()
        try:
            # The function's module is imported before a stop may raise: an exception raised inside a C extension's
            # initialisation becomes "ImportError: initialization failed" (pybind11, e.g. TensorFlow's modules) and
            # leaves the module half-imported for the worker's later trials. A stop asked meanwhile ends the trial
            # once the import is done.
            function = resolve_function(reference)
            _in_trial.set()
            if _stop_asked.is_set():
                raise TrialStopped
            function()
        except TrialStopped:
            code = STOPPED_EXIT_CODE
        except SystemExit as exc:  # e.g. the trainer's exit 2 for a config it refuses, said on stderr
            code = exc.code if isinstance(exc.code, int) else int(exc.code is not None)
            if exc.code is not None and not isinstance(exc.code, int):
                print(exc.code, file=sys.stderr)  # what Python says for `sys.exit("message")` as a process ends
        except BaseException:
            # How it ended, then what it said: the form of a command-mode trial's error (slot.crash_report).
            code, error = 1, f"{describe_exit(1)}\n{traceback.format_exc()}"
        finally:
            _in_trial.clear()
        if wandb.run is not None:
            wandb.run.finish(exit_code=code)
        wandb.teardown(code)
    return Outcome(exit_code=code, error=error)


def worker_main(
    connection: Connection, reference: str, slot_env: dict[str, str], max_trials: int, code_dir: str | None = None
) -> None:
    """A worker's life: set its threads/GPU, then run up to ``max_trials`` tasks received on ``connection``;
    ``code_dir`` (a rerun's) is where the function's code is imported from and the worker works."""
    os.environ.update(slot_env)  # before the function's module (and TensorFlow) is imported
    if code_dir is not None:
        os.chdir(code_dir)
        sys.path.insert(0, code_dir)
        # The trial imports its packages from code_dir (a commit's worktree), also one this worker has loaded for
        # itself (contract): only the worker's own code, localsweep, stays today's.
        for name in [m for m in sys.modules if m.partition(".")[0] != "localsweep"]:
            if (Path(code_dir) / name.partition(".")[0] / "__init__.py").is_file():
                del sys.modules[name]
    sys.argv = [reference]  # spawn copies the controller's argv; the function must not parse the sweep's flags
    live_history.install()  # mirror wandb.log calls for hyperband (see localsweep/workers/inject/sitecustomize.py)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the controller's to handle (see _replace_worker)
    signal.signal(signal.SIGUSR1, _on_stop_signal)
    threading.Thread(target=_exit_with_parent, args=(os.getppid(),), daemon=True).start()
    for _ in range(max_trials):
        task = connection.recv()
        if task is None:
            return
        connection.send(_run_trial(reference, task))


class PooledSlot:
    """One pooled worker process and the trial it runs; the process is replaced after ``max_trials``."""

    def __init__(
        self,
        reference: str,
        slot_env: dict[str, str],
        max_trials: int,
        kill_delay: float,
        code_dir: Path | None = None,
    ) -> None:
        self._reference = reference
        self._code_dir = None if code_dir is None else str(code_dir)
        self._slot_env = slot_env
        self._max_trials = max_trials
        self._kill_delay = kill_delay
        self._context = multiprocessing.get_context("spawn")
        self._process: Any = None
        self._connection: Connection | None = None
        self._done = 0
        self._task: TrialTask | None = None
        self._stop_sent: float | None = None

    @property
    def busy(self) -> bool:
        """True while a trial runs in this worker."""
        return self._task is not None

    @property
    def pid(self) -> int | None:
        """The worker process id."""
        return None if self._process is None else int(self._process.pid)

    def start(self, task: TrialTask) -> None:
        """Hand a trial to the worker, starting a fresh worker first if needed."""
        if self._process is None or not self._process.is_alive() or self._done >= self._max_trials:
            self._replace_worker()
        task.write_param_files()
        assert self._connection is not None
        self._task, self._stop_sent = task, None
        self._done += 1
        with contextlib.suppress(OSError):  # the worker died while starting: poll() reports it as this trial's end
            self._connection.send(task)

    def stop(self) -> None:
        """Interrupt the running trial (SIGUSR1 -> TrialStopped); :meth:`poll` kills the worker after the delay."""
        if self._task is not None and self._stop_sent is None:
            self._stop_sent = time.monotonic()
            os.kill(self._process.pid, signal.SIGUSR1)

    def kill(self) -> None:
        """Kill the worker of the running trial (a hung trial may never see a signal handler run); the next
        :meth:`start` replaces it."""
        if self._task is not None:
            self._process.kill()

    def poll(self) -> Outcome | None:
        """The trial's outcome once the worker reports it (or dies), else None."""
        if self._task is None or self._connection is None:
            return None
        try:
            outcome: Outcome | None = self._connection.recv() if self._connection.poll() else None
        except (EOFError, OSError):  # the worker died, e.g. of SIGUSR1 before its handler was installed
            return self._died()
        if outcome is not None:
            if outcome.exit_code != 0 and outcome.error is None:
                outcome = Outcome(outcome.exit_code, crash_report(outcome.exit_code, self._task.log_path))
            self._task = None
            return outcome
        if not self._process.is_alive():
            return self._died()
        if self._stop_sent is not None and time.monotonic() > self._stop_sent + self._kill_delay:
            self._process.kill()
        return None

    def close(self) -> None:
        """Stop the worker (a running trial is interrupted) and wait for it."""
        if self._process is None:
            return
        if self._task is not None:
            self.stop()
            self._process.join(self._kill_delay)
        elif self._connection is not None:
            with contextlib.suppress(OSError):  # a worker past max_trials has already left: the pipe is closed
                self._connection.send(None)
            self._process.join(self._kill_delay)
        if self._process.is_alive():
            self._process.kill()
            self._process.join()
        self._process, self._connection, self._task = None, None, None

    def _died(self) -> Outcome:
        if self._task is None:
            raise RuntimeError("a worker without a trial cannot have died during one")
        self._process.join()
        code = self._process.exitcode
        task = self._task
        self._process, self._connection, self._task = None, None, None
        return Outcome(
            exit_code=code, error=f"the worker process died ({describe_exit(code)})\n{log_tail(task.log_path)}"
        )

    def _replace_worker(self) -> None:
        self.close()
        ours, theirs = self._context.Pipe()
        self._process = self._context.Process(
            target=worker_main,
            args=(theirs, self._reference, self._slot_env, self._max_trials, self._code_dir),
            daemon=False,
        )
        # Ctrl-C in a terminal (and dumb-init's SIGINT in a container) reaches the whole process group, the worker
        # too, and a worker still importing would die of it; how trials stop is the controller's decision. An
        # ignored signal stays ignored across fork and exec (the signal mask does not: the spawn resets it), so
        # the worker starts with SIGINT ignored. Meanwhile SIGINT is blocked here: Linux keeps a blocked signal
        # pending even while ignored, and delivers it to the controller's handler once that is back. The first
        # spawn also starts multiprocessing's resource tracker, which *unblocks* SIGINT when done (discarding a
        # pending one under SIG_IGN): start it before.
        resource_tracker.ensure_running()
        mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        handler = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            self._process.start()
        finally:
            signal.signal(signal.SIGINT, handler)
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        theirs.close()
        self._connection, self._done = ours, 0
