"""Command mode: start each trial as its own process, with the command line `wandb agent` would build.

The macros (``${env} ${interpreter} ${program} ${args} ${args_no_hyphens} ${args_json} ${args_json_file}``
and the rest, ``${envvar:NAME}``) are expanded by wandb's own functions (``create_sweep_command``,
``create_sweep_command_args``), the same ones ``Agent._command_run`` calls.
"""

from __future__ import annotations

import copy
import os
import platform
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from wandb.sdk.launch.sweeps import utils as sweep_utils

from localsweep.workers import inject
from localsweep.workers.handoff import TrialTask
from localsweep.workers.slot import Outcome, crash_report

_INJECT_DIR = Path(inject.__file__).parent


def command_line(config: dict[str, Any], task: TrialTask) -> list[str]:
    """The argv of one trial, built exactly as ``Agent._command_run`` builds it.

    One deliberate difference: ``${interpreter}`` is ``sys.executable`` instead of the agent's bare
    ``"python"``, so trials run in the interpreter (and virtual environment) of the sweep itself, not in
    whatever ``python`` comes first on the PATH (often a system Python without the project's packages).
    """
    command = config.get("command")
    # create_sweep_command edits the list in place: hand it a copy so the stored config stays unexpanded.
    template = sweep_utils.create_sweep_command(copy.deepcopy(command) if isinstance(command, list) else None)
    sweep_vars: dict[str, Any] = sweep_utils.create_sweep_command_args({"args": task.params})
    sweep_vars["interpreter"] = [sys.executable]
    sweep_vars["program"] = [config.get("program")]
    sweep_vars["args_json_file"] = [str(task.json_path)]
    if platform.system() != "Windows":
        sweep_vars["env"] = ["/usr/bin/env"]
    argv: list[str] = []
    for chunk in map(str, template):
        argv += (sweep_vars.get(chunk[2:-1]) or []) if chunk.startswith("${") and chunk.endswith("}") else [chunk]
    return argv


class CommandSlot:
    """One worker slot of command mode: at most one trial process at a time."""

    def __init__(self, config: dict[str, Any], slot_env: dict[str, str], workdir: Path, kill_delay: float) -> None:
        self._config = config
        self._slot_env = slot_env
        self._workdir = workdir
        self._kill_delay = kill_delay
        self._proc: subprocess.Popen[bytes] | None = None
        self._task: TrialTask | None = None
        self._stop_sent: float | None = None

    @property
    def busy(self) -> bool:
        """True while a trial runs in this slot."""
        return self._proc is not None

    @property
    def pid(self) -> int | None:
        """The trial's process id (it leads its own process group)."""
        return None if self._proc is None else self._proc.pid

    def start(self, task: TrialTask) -> None:
        """Write the parameter files and start the trial's command, output going to ``task.log_path``."""
        task.write_param_files()
        env = task.process_environment({**os.environ, **self._slot_env})
        # The live history (localsweep/workers/inject/sitecustomize.py), in every trial: early termination judges it,
        # the dashboard shows it, and a killed trial's last epochs are kept from it (its run log misses them).
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(_INJECT_DIR), env.get("PYTHONPATH")]))
        with task.log_path.open("wb") as log:
            # Like the agent: a new process group and a closed stdin, so the trial never blocks on the terminal.
            self._proc = subprocess.Popen(
                command_line(self._config, task),
                env=env,
                cwd=self._workdir,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                process_group=0,
            )
        self._task = task
        self._stop_sent = None

    def stop(self) -> None:
        """Ask the trial to end (SIGTERM, like the agent); :meth:`poll` sends SIGKILL after the kill delay."""
        if self._proc is not None and self._stop_sent is None:
            self._stop_sent = time.monotonic()
            self._signal(signal.SIGTERM)

    def kill(self) -> None:
        """SIGKILL the trial's process group (the trial, its wandb service, its children)."""
        self._signal(signal.SIGKILL)

    def poll(self) -> Outcome | None:
        """The trial's outcome once its process has ended, else None."""
        if self._proc is None or self._task is None:
            return None
        code = self._proc.poll()
        if code is None:
            if self._stop_sent is not None and time.monotonic() > self._stop_sent + self._kill_delay:
                self._signal(signal.SIGKILL)
            return None
        error = None if code == 0 else crash_report(code, self._task.log_path)
        self._proc, self._task = None, None
        return Outcome(exit_code=code, error=error)

    def close(self) -> None:
        """End a running trial (SIGTERM, then SIGKILL after the kill delay) and wait for it."""
        if self._proc is None:
            return
        self.stop()
        try:
            self._proc.wait(timeout=self._kill_delay)
        except subprocess.TimeoutExpired:
            self._signal(signal.SIGKILL)
            self._proc.wait()
        self._proc, self._task = None, None

    def _signal(self, signum: int) -> None:
        if self._proc is None:
            return
        try:
            # SIGTERM to the trial only (as the agent does); SIGKILL to its whole group, wandb service included.
            if signum == signal.SIGKILL:
                os.killpg(self._proc.pid, signum)
            else:
                self._proc.send_signal(signum)
        except ProcessLookupError:
            pass
