"""A pooled trial function whose module takes a while to import, as TensorFlow's does, for the stop tests.

Importing it writes ``import-started-<pid>`` beside the sweep's wandb folder, sleeps ``SLOW_IMPORT_S`` seconds
(default 4), then writes ``import-done-<pid>``: a test can stop the sweep while a pooled worker imports it and see
whether the import was cut in half. ``main`` is the endings program's trial.
"""

import os
import time
from pathlib import Path

from tests.localsweep_programs.endings import main

__all__ = ["main"]

_FOLDER = Path(os.environ["WANDB_DIR"])
(_FOLDER / f"import-started-{os.getpid()}").touch()
time.sleep(float(os.environ.get("SLOW_IMPORT_S", "4")))
(_FOLDER / f"import-done-{os.getpid()}").touch()
