"""Quiet Paddle: its C++ logging, import-time warnings and paddlenlp's INFO lines drown our logs."""

from __future__ import annotations

import os
import signal
import threading
import warnings

__all__ = ["import_paddle", "quiet_paddle"]


def quiet_paddle() -> None:
    """Call before importing paddle or paddlenlp; safe to call more than once."""
    os.environ.setdefault("GLOG_minloglevel", "2")
    os.environ.setdefault("GLOG_v", "0")
    os.environ.setdefault("FLAGS_call_stack_level", "0")
    for message in (
        "No ccache found",
        "Setuptools is replacing distutils",
        ".*pkg_resources is deprecated",
    ):
        warnings.filterwarnings("ignore", message=message)
    from paddlenlp.utils.log import logger

    logger.set_level("WARNING")


def import_paddle() -> None:
    """Import Paddle now, leaving the process's SIGTERM/SIGINT handling as it was.

    Importing paddle replaces those handlers with its own, which abort with a "FatalError:
    Termination signal" and exit 143. So the signals are blocked during the import (one
    that arrives meanwhile waits), the handlers in place before it are put back, and only
    then are the signals let through. Install your handlers before calling this.
    """
    if threading.current_thread() is not threading.main_thread():
        # Only the main thread may set handlers (and Paddle installs its own only from it):
        # a library user importing from a worker thread gets a plain import.
        quiet_paddle()
        import paddle
        import paddle.inference

        return
    stop_signals = {signal.SIGTERM, signal.SIGINT}
    before = {sig: signal.getsignal(sig) for sig in stop_signals}
    blocked = signal.pthread_sigmask(signal.SIG_BLOCK, stop_signals)
    try:
        quiet_paddle()
        import paddle
        import paddle.inference  # noqa: F401
    finally:
        for sig, handler in before.items():
            if handler is not None:  # None: installed from C, Python cannot restore it
                signal.signal(sig, handler)
        signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
