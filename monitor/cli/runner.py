"""Run a long-lived service until SIGTERM/SIGINT: the signal only sets a stop event, the
service then drains and commits on its own."""

from __future__ import annotations

import asyncio
import signal
import threading
from collections.abc import Awaitable, Callable

__all__ = ["STOP_SIGNALS", "defer_stop_signals", "run_until_signalled"]

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
_stop_requested = threading.Event()  # a stop signal came before the event loop ran


def defer_stop_signals() -> None:
    """From now until ``run_until_signalled`` takes over, a SIGTERM/SIGINT is recorded
    instead of killing the process; the service then starts already stopped. Call it first
    thing in a command whose start-up is slow (imports, loading a model)."""
    for sig in STOP_SIGNALS:
        signal.signal(sig, lambda *_: _stop_requested.set())


def run_until_signalled(main: Callable[[asyncio.Event], Awaitable[None]]) -> None:
    async def runner() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in STOP_SIGNALS:
            loop.add_signal_handler(sig, stop.set)
        if _stop_requested.is_set():
            stop.set()
        try:
            await main(stop)
        finally:
            for sig in STOP_SIGNALS:
                loop.remove_signal_handler(sig)

    asyncio.run(runner())
