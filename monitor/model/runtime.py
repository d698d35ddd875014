"""Quiet Paddle: its C++ logging, import-time warnings and paddlenlp's INFO lines drown our logs."""

from __future__ import annotations

import os
import warnings

__all__ = ["quiet_paddle"]


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
    """Import Paddle now, before signal handlers are installed.

    Importing paddle replaces the process's SIGTERM/SIGINT handlers with its own, which
    abort with a "FatalError: Termination signal"; handlers installed afterwards win.
    """
    quiet_paddle()
    import paddle
    import paddle.inference  # noqa: F401
