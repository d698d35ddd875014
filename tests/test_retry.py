"""Retry: which errors it retries, the wait schedule, stopping, timeouts and outage logs.

A fake clock records every wait, so the schedule is asserted exactly and no test sleeps
for real except the two that check that ``stop`` ends a real wait promptly.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable

import pytest
from structlog.testing import capture_logs

from monitor.errors import BusError, MonitorError, RateLimited
from monitor.retry import Backoff, Retry, Stopped, poll_until

pytestmark = pytest.mark.unit  # the fast layer: no broker, Redis, Paddle or network


class FakeClock:
    """Time advances only by the waits Retry asks for; each wait is recorded."""

    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def failing(
    errors: list[Exception], result: str = "ok"
) -> tuple[Callable[[], Awaitable[str]], list[int]]:
    """An operation raising ``errors`` one per call, then returning ``result``; and its call count."""
    calls = [0]

    async def operation() -> str:
        calls[0] += 1
        if errors:
            raise errors.pop(0)
        return result

    return operation, calls


def retry(clock: FakeClock, **kw: object) -> Retry:
    options: dict[str, object] = {"base_s": 1.0, "cap_s": 4.0, "jitter": 0.0, "clock": clock}
    return Retry("thing", **(options | kw))  # type: ignore[arg-type]


async def test_retriable_errors_are_retried_until_success() -> None:
    clock = FakeClock()
    operation, calls = failing([BusError("a"), BusError("b")])
    assert await retry(clock).call(operation) == "ok"
    assert calls[0] == 3
    assert clock.sleeps == [1.0, 2.0]


async def test_error_marked_not_retriable_escapes_at_once() -> None:
    clock = FakeClock()
    operation, calls = failing([MonitorError("bad settings")])  # retriable = False
    with pytest.raises(MonitorError, match="bad settings"):
        await retry(clock).call(operation)
    assert calls[0] == 1 and clock.sleeps == []


async def test_retry_on_limits_the_error_types() -> None:
    class Flaky(ValueError):
        pass

    class Fatal(ValueError):
        retriable = False

    clock = FakeClock()
    operation, calls = failing([Flaky("x"), Flaky("y")])
    assert await retry(clock, retry_on=(ValueError,)).call(operation) == "ok"
    assert calls[0] == 3

    for error in (KeyError("not in retry_on"), Fatal("opted out"), BusError("not a ValueError")):
        operation, calls = failing([error])
        with pytest.raises(type(error)):
            await retry(clock, retry_on=(ValueError,)).call(operation)
        assert calls[0] == 1


def test_backoff_doubles_up_to_the_cap_and_resets() -> None:
    backoff = Backoff(0.5, 4.0)
    assert [backoff.next() for _ in range(6)] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    backoff.reset()
    assert backoff.peek() == 0.5 and backoff.next() == 0.5


def test_jitter_stays_within_its_bounds_and_follows_the_seeded_rng() -> None:
    delays = [Backoff(1.0, 8.0, jitter=0.25, rng=random.Random(7)).next() for _ in range(2)]
    assert delays[0] == delays[1]  # same seed, same schedule
    backoff = Backoff(1.0, 8.0, jitter=0.25, rng=random.Random(7))
    twin = random.Random(7)
    for nominal in (1.0, 2.0, 4.0, 8.0, 8.0, 8.0, 8.0, 8.0):
        delay = backoff.next()
        assert nominal * 0.75 <= delay <= nominal
        assert delay == pytest.approx(nominal * (1 - 0.25 * twin.random()))


async def test_retry_uses_the_capped_schedule() -> None:
    clock = FakeClock()
    operation, _ = failing([BusError(str(i)) for i in range(6)])
    await retry(clock).call(operation)
    assert clock.sleeps == [1.0, 2.0, 4.0, 4.0, 4.0, 4.0]


async def test_retry_after_lengthens_a_wait_but_never_shortens_one() -> None:
    clock = FakeClock()
    operation, _ = failing(
        [RateLimited("418", retry_after=7.0), RateLimited("418", retry_after=0.1)]
    )
    await retry(clock).call(operation)
    assert clock.sleeps == [7.0, 2.0]


async def test_timeout_raises_the_last_error() -> None:
    clock = FakeClock()
    errors: list[Exception] = [BusError(f"fail {i}") for i in range(10)]
    operation, calls = failing(list(errors))
    with pytest.raises(BusError) as caught:
        await retry(clock, cap_s=1.0, timeout_s=3.5).call(operation)
    # waits end at 101, 102, 103; a fourth would end past 103.5, so the 4th error escapes
    assert clock.sleeps == [1.0, 1.0, 1.0]
    assert calls[0] == 4 and caught.value is errors[3]


async def test_stop_already_set_never_calls_the_operation() -> None:
    stop = asyncio.Event()
    stop.set()
    operation, calls = failing([])
    with pytest.raises(Stopped):
        await retry(FakeClock()).call(operation, stop=stop)
    assert calls[0] == 0


async def test_stop_during_a_wait_raises_stopped_at_once() -> None:
    stop = asyncio.Event()
    operation, calls = failing([BusError("down")] * 100)
    slow = Retry("thing", base_s=30.0, cap_s=30.0, jitter=0)  # real clock: a 30 s wait
    asyncio.get_running_loop().call_later(0.05, stop.set)
    started = time.monotonic()
    with pytest.raises(Stopped):
        await slow.call(operation, stop=stop)
    assert time.monotonic() - started < 1.0
    assert calls[0] == 1


async def test_stop_during_a_slow_attempt_cancels_it() -> None:
    stop = asyncio.Event()
    cancelled = asyncio.Event()

    async def hangs() -> str:
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return "never"

    asyncio.get_running_loop().call_later(0.05, stop.set)
    started = time.monotonic()
    with pytest.raises(Stopped):
        await Retry("thing").call(hangs, stop=stop)
    assert time.monotonic() - started < 1.0
    assert cancelled.is_set()


async def test_on_failure_sees_every_retried_error() -> None:
    errors: list[Exception] = [BusError("a"), BusError("b"), BusError("c")]
    operation, _ = failing(list(errors))
    seen: list[Exception] = []
    await retry(FakeClock()).call(operation, on_failure=seen.append)
    assert seen == errors and all(s is e for s, e in zip(seen, errors, strict=True))


async def test_an_outage_is_logged_once_and_its_end_once() -> None:
    clock = FakeClock()
    operation, _ = failing([BusError("down 1"), BusError("down 2"), BusError("down 3")])
    with capture_logs() as logs:
        await retry(clock).call(operation)
    assert [(e["event"], e["log_level"]) for e in logs] == [
        ("unavailable", "warning"),
        ("recovered", "info"),
    ]
    assert logs[0]["what"] == "thing" and logs[0]["error"] == "down 1"
    assert logs[1]["attempts"] == 4 and logs[1]["after_s"] == 7.0  # waits 1 + 2 + 4


async def test_quiet_and_healthy_calls_log_nothing() -> None:
    with capture_logs() as logs:
        operation, _ = failing([])
        await retry(FakeClock()).call(operation)
        operation, _ = failing([BusError("down")])
        await retry(FakeClock(), quiet=True).call(operation)
    assert logs == []


async def test_base_zero_never_sleeps() -> None:
    clock = FakeClock()
    operation, calls = failing([BusError(str(i)) for i in range(5)])
    assert await retry(clock, base_s=0.0).call(operation) == "ok"
    assert calls[0] == 6 and clock.sleeps == []


async def test_poll_until_returns_none_once_the_probe_answers() -> None:
    operation, calls = failing([ConnectionError("a"), ConnectionError("b")])
    assert await poll_until(operation, timeout_s=2.0, interval_s=0.01) is None
    assert calls[0] == 3


async def test_poll_until_returns_the_last_error_when_time_runs_out() -> None:
    raised: list[Exception] = []

    async def probe() -> None:
        raised.append(ConnectionError(f"refused {len(raised)}"))
        raise raised[-1]

    result = await poll_until(probe, timeout_s=0.05, interval_s=0.01)
    assert len(raised) >= 2 and result is raised[-1]
