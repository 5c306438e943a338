"""Send a real signal to this process at an exact point of its life, for the tests of how a sweep stops.

On ``PYTHONPATH``, Python imports this at start-up. With ``SIGNAL_AT=module:function`` it watches calls (a profile
hook, this process's main thread only) and, when that function is first called, sends ``SIGNAL_NAME`` (``SIGINT``
to its whole process group, as Ctrl-C in a terminal does; ``SIGTERM`` to itself, as ``kill`` does). Points in the
controller's start-up and tear-down are moments a timed signal hits only by luck.

With ``SIGNAL_LOST_AS``, whatever the handler raises at that point is lost as it is in two places of an import:
``ImportError`` as an extension module's init reports it (pybind11, as in SciPy's FFT module: ``ImportError:
initialization failed``, chained to it); ``ignored`` as the import machinery's weakref callbacks do (Python prints
it and goes on).
"""

import os
import signal
import sys
from types import FrameType
from typing import Any

_AT = os.environ.get("SIGNAL_AT", "")


def _watch(frame: FrameType, event: str, arg: Any) -> None:
    module, _, function = _AT.partition(":")
    if event == "call" and frame.f_code.co_name == function and frame.f_globals.get("__name__") == module:
        sys.setprofile(None)
        signum = signal.Signals[os.environ.get("SIGNAL_NAME", "SIGTERM")]
        lost_as = os.environ.get("SIGNAL_LOST_AS")
        if not lost_as:
            _send(signum)
            return
        try:
            _send(signum)
            for _ in range(3):  # a few bytecodes: Python runs the handler at the first of them
                pass
        except BaseException as err:
            if lost_as == "ImportError":
                raise ImportError("initialization failed") from err


def _send(signum: signal.Signals) -> None:
    if signum == signal.SIGINT:
        os.killpg(os.getpgid(0), signum)
    else:
        os.kill(os.getpid(), signum)


if _AT:
    os.environ.pop("SIGNAL_AT")  # not in the trials this process starts
    sys.setprofile(_watch)
