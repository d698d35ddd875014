"""Issue 25 item 4: alerts a dead reader took are reclaimed by another member after the idle
time, and a reader group is never created at ``$`` (it would skip alerts written before it)."""

from __future__ import annotations

import asyncio
import time

import pytest
from structlog.testing import capture_logs

from monitor.schemas import Alert
from monitor.settings import Settings
from monitor.sinks import RedisSink
from monitor.store import AlertLog, Store
from monitor.store.alerts import reclaim
from tests.fixtures import run_cli
from tests.store.test_alerts import _alert


async def _strand(store: Store, n: int, group: str = "care") -> list[bytes]:
    """Write ``n`` alerts and let a reader ("old-host") take them all and die unacknowledged."""
    await RedisSink(store, cooldown_s=0).write(
        [_alert(i, ["care", "default"]) for i in range(n)], []
    )
    await store.redis.xgroup_create(store.keys.stream, group, id="0", mkstream=True)
    reply = await store.redis.xreadgroup(group, "old-host", {store.keys.stream: ">"}, count=n)
    return [entry_id for entry_id, _ in reply[0][1]]


async def test_a_dead_readers_alerts_go_to_another_member_after_the_idle_time(
    stack: Settings,
) -> None:
    async with Store(stack.redis) as store:
        log = AlertLog(store)
        seen: list[str] = []

        async def crash(alert: Alert) -> None:
            raise RuntimeError("care service died")

        await RedisSink(store, cooldown_s=0).write([_alert(i, ["care"]) for i in range(5)], [])
        with pytest.raises(RuntimeError):  # old-host took all five and acknowledged none
            await log.read("care", "old-host", crash)
        started = time.monotonic()

        async def record(alert: Alert) -> None:
            seen.append(alert.comment_id)

        with capture_logs() as events:
            handled = await log.read(
                "care", "new-host", record, limit=5, block_ms=100, reclaim_idle_s=0.5
            )
        assert handled == 5 and seen == [f"c{i}" for i in range(5)]  # oldest first
        assert time.monotonic() - started >= 0.45  # not before the idle time
        assert (await store.redis.xpending(store.keys.stream, "care"))["pending"] == 0
        reclaimed = [e for e in events if e["event"] == "reclaimed"]
        assert [e["entries"] for e in reclaimed] == [5] and reclaimed[0]["consumer"] == "new-host"


async def test_reclaim_waits_for_the_idle_time_and_acknowledges_deleted_entries(
    stack: Settings,
) -> None:
    """The operation the console's queues can use too. An entry deleted from the stream
    (trimmed, or erased for a data subject) is acknowledged, not handed over or kept."""
    async with Store(stack.redis) as store:
        stream = store.keys.stream
        taken = await _strand(store, 3)
        assert await reclaim(store, stream, "care", "new-host", min_idle_s=60) == []
        await store.redis.xdel(stream, taken[1])
        await asyncio.sleep(0.05)
        entries = await reclaim(store, stream, "care", "new-host", min_idle_s=0.02)
        assert [entry_id for entry_id, _ in entries] == [taken[0], taken[2]]
        assert entries[0][1][b"alert_id"] and b"alert" in entries[0][1]
        pending = await store.redis.xpending_range(stream, "care", "-", "+", 10)
        assert [(p["message_id"], p["consumer"]) for p in pending] == [
            (taken[0], b"new-host"),
            (taken[2], b"new-host"),
        ]
        assert await reclaim(store, stream, "no-such-group", "x", min_idle_s=0.01) == []


async def test_a_new_group_starts_at_the_oldest_alert_and_says_so(stack: Settings) -> None:
    async with Store(stack.redis) as store:
        await RedisSink(store, cooldown_s=0).write([_alert(i, ["default"]) for i in range(3)], [])
        seen: list[str] = []

        async def record(alert: Alert) -> None:
            seen.append(alert.comment_id)

        with capture_logs() as events:
            await AlertLog(store).read("late", "w", record, limit=3, block_ms=100)
            stopped = asyncio.Event()
            stopped.set()  # a second reader joining the group: no second creation, no log
            await AlertLog(store).read("late", "w2", record, stop=stopped)
        assert seen == ["c0", "c1", "c2"]  # at `$` this reader would wait for new ones
        created = [e for e in events if e["event"] == "reader_group_created"]
        assert (
            len(created) == 1 and created[0]["from_oldest"] == 3 and created[0]["group"] == "late"
        )


async def test_a_group_lost_while_reading_is_recreated_at_the_start(stack: Settings) -> None:
    """Redis restarted without persistence while a reader ran: the scorer's next alerts
    recreate the stream before the reader recreates its group, which must not skip them."""
    async with Store(stack.redis) as store:
        sink = RedisSink(store, cooldown_s=0)
        await sink.write([_alert(0, ["default"])], [])
        seen: list[str] = []

        async def lose_redis_on_first(alert: Alert) -> None:
            seen.append(alert.comment_id)
            if alert.comment_id == "c0":
                await store.redis.delete(store.keys.stream)  # the stream and its groups
                await sink.write([_alert(i, ["default"]) for i in range(1, 4)], [])

        with capture_logs() as events:
            handled = await AlertLog(store).read(
                "care", "w", lose_redis_on_first, limit=4, block_ms=100
            )
        assert handled == 4 and seen == ["c0", "c1", "c2", "c3"]
        assert [e["from_oldest"] for e in events if e["event"] == "reader_group_created"] == [
            1,  # the first creation, for the stream holding c0
            3,  # the re-creation after the loss
        ]


def test_alerts_tail_takes_over_what_a_dead_tail_left(
    stack: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    """`alerts tail` on another host (or a replaced container) gets the dead one's alerts."""
    prefix = stack.redis.key_prefix + "tail:"
    monkeypatch.setenv("LOVELORN_HOME", str(tmp_path))
    monkeypatch.setenv("LOVELORN_REDIS__URL", stack.redis.url or "")
    monkeypatch.setenv("LOVELORN_REDIS__KEY_PREFIX", prefix)
    monkeypatch.setenv("LOVELORN_REDIS__ALERT_RECLAIM_IDLE_S", "0.2")

    async def strand() -> None:
        async with Store(stack.redis) as base:
            await _strand(base.with_prefix(prefix), 2)

    asyncio.run(strand())
    args = ["--group", "care", "--consumer", "new-host", "--count", "2", "--json", "--from-start"]
    result = run_cli("alerts", "tail", *args)  # --from-start: hidden, still accepted
    assert result.code == 0, result.err
    assert '"comment_id":"c0"' in result.out and '"comment_id":"c1"' in result.out
