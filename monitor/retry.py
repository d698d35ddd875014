"""Backoff schedules shared by the poller, the sinks and the dead-letter path.

Pure and deterministic given ``rng``, so tests assert the schedule itself instead of timing
sleeps; ``Clock`` lets the same code run against a fake clock.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from typing import Protocol

__all__ = ["Backoff", "Clock", "SystemClock", "poll_until"]


class Backoff:
    """Exponential: base·2ⁿ capped at ``cap_s``, times a jitter factor in [1 − jitter, 1]."""

    def __init__(
        self, base_s: float, cap_s: float, *, jitter: float = 0.0, rng: random.Random | None = None
    ) -> None:
        self.base_s = base_s
        self.cap_s = cap_s
        self.jitter = jitter
        self.attempts = 0
        self._rng = rng or random.Random()

    def peek(self) -> float:
        delay = min(self.cap_s, self.base_s * (2**self.attempts))
        return delay

    def next(self) -> float:
        delay = self.peek()
        self.attempts += 1
        if self.jitter:
            delay *= 1 - self.jitter * self._rng.random()
        return delay

    def reset(self) -> None:
        self.attempts = 0


class Clock(Protocol):
    def monotonic(self) -> float: ...

    async def sleep(self, seconds: float) -> None: ...


class SystemClock:
    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


async def poll_until(
    probe: Callable[[], Awaitable[None]], timeout_s: float, interval_s: float = 0.1
) -> Exception | None:
    """Call ``probe`` until it returns without raising (returns None) or ``timeout_s`` passes
    (returns the last error). For readiness checks of services that are starting."""
    deadline = time.monotonic() + timeout_s
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            await probe()
            return None
        except Exception as exc:
            last = exc
        await asyncio.sleep(interval_s)
    return last or TimeoutError(f"not ready after {timeout_s:.0f}s")
