"""The one retry helper: every loop that waits out an outage goes through ``Retry``.

Shaped like redis-py's ``Retry.call_with_retry``: a backoff schedule, the errors worth
trying again, and the operation. Two things it adds for a long-running service:

- it knows the caller's stop event, so SIGTERM ends a wait (or an attempt) at once
  instead of after the current backoff;
- it logs an outage once when it starts and once when it ends, never once per attempt.

Schedules are pure and deterministic given ``rng``, so tests assert the schedule itself;
``Clock`` lets the same code run against a fake clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Awaitable, Callable
from typing import Protocol, TypeVar

import structlog

from monitor.errors import MonitorError

__all__ = ["Backoff", "Clock", "Retry", "Stopped", "SystemClock", "poll_until"]

log = structlog.get_logger()
T = TypeVar("T")


class Stopped(Exception):
    """The stop event was set while waiting or trying; the caller returns without finishing."""


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
        return min(self.cap_s, self.base_s * (2**self.attempts))

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


def _retriable(exc: BaseException, retry_on: tuple[type[BaseException], ...]) -> bool:
    return isinstance(exc, retry_on) and bool(getattr(exc, "retriable", True))


class Retry:
    """Call an operation until it succeeds, a non-retriable error escapes, or time runs out.

    ``base_s``/``cap_s`` shape the backoff (a fresh schedule per call; ``base_s=0`` for
    operations that pace themselves); errors of ``retry_on`` whose ``retriable`` attribute
    is not False are retried; ``timeout_s`` bounds the whole call (the last error is
    raised). An error's ``retry_after`` lengthens that wait.
    """

    def __init__(
        self,
        what: str,
        *,
        base_s: float = 0.5,
        cap_s: float = 30.0,
        jitter: float = 0.2,
        retry_on: tuple[type[BaseException], ...] = (MonitorError,),
        timeout_s: float | None = None,
        clock: Clock | None = None,
        rng: random.Random | None = None,
        quiet: bool = False,
    ) -> None:
        self.what = what
        self.base_s = base_s
        self.cap_s = cap_s
        self.jitter = jitter
        self.retry_on = retry_on
        self.timeout_s = timeout_s
        self.clock = clock or SystemClock()
        self._rng = rng
        self._quiet = quiet

    def schedule(self) -> Backoff:
        return Backoff(self.base_s, self.cap_s, jitter=self.jitter, rng=self._rng)

    async def call(
        self,
        operation: Callable[[], Awaitable[T]],
        *,
        stop: asyncio.Event | None = None,
        on_failure: Callable[[Exception], object] | None = None,
    ) -> T:
        """The operation's result; raises Stopped when ``stop`` is set first. ``on_failure``
        sees every retried error (for metrics)."""
        backoff = self.schedule()
        started = self.clock.monotonic()
        failures = 0
        while True:
            if stop is not None and stop.is_set():
                raise Stopped(self.what)
            try:
                result = await _until_stopped(operation(), stop, self.what)
            except Stopped:
                raise
            except Exception as exc:
                if not _retriable(exc, self.retry_on):
                    raise
                delay = max(backoff.next(), float(getattr(exc, "retry_after", 0) or 0))
                elapsed = self.clock.monotonic() - started
                if self.timeout_s is not None and elapsed + delay > self.timeout_s:
                    raise
                failures += 1
                if on_failure is not None:
                    on_failure(exc)
                if failures == 1 and not self._quiet:
                    log.warning("unavailable", what=self.what, error=str(exc), retrying=True)
                if delay > 0:  # 0 for operations that pace themselves
                    await _until_stopped(self.clock.sleep(delay), stop, self.what)
                continue
            if failures and not self._quiet:
                log.info(
                    "recovered",
                    what=self.what,
                    attempts=failures + 1,
                    after_s=round(self.clock.monotonic() - started, 1),
                )
            return result


async def _until_stopped(awaitable: Awaitable[T], stop: asyncio.Event | None, what: str) -> T:
    """Await ``awaitable`` unless ``stop`` is set first (then cancel it and raise Stopped)."""
    if stop is None:
        return await awaitable
    task = asyncio.ensure_future(awaitable)
    stopper = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopper.cancel()
        if not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
    if task.cancelled():
        raise Stopped(what)
    return task.result()


async def poll_until(
    probe: Callable[[], Awaitable[object]], timeout_s: float, interval_s: float = 0.1
) -> Exception | None:
    """Readiness checks of services that are starting: call ``probe`` every ``interval_s``
    until it returns (None) or ``timeout_s`` passes (the last error)."""
    retry = Retry(
        "readiness probe",
        base_s=interval_s,
        cap_s=interval_s,
        jitter=0,
        retry_on=(Exception,),
        timeout_s=timeout_s,
        quiet=True,
    )
    try:
        await retry.call(probe)
    except Exception as exc:
        return exc
    return None
