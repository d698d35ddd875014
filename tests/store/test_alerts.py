"""How a care service reads alerts: consumer group, acks, redelivery after a crash, policy
filters that never swallow another reader's alerts."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from monitor.schemas import Alert, alert_id
from monitor.settings import Settings
from monitor.sinks import RedisSink
from monitor.store import AlertLog, Store
from tests.fixtures import run_cli


def _alert(i: int, policies: list[str]) -> Alert:
    now = datetime.now(UTC)
    return Alert(
        alert_id=alert_id(f"c{i}", "v1"),
        comment_id=f"c{i}",
        post_id="p",
        user_id=f"u{i}",
        text=f"分手{i}",
        score=0.9,
        threshold=0.5,
        policies=policies,
        model_version="v1",
        created_at=now,
        fetched_at=now,
    )


async def test_consumer_group_redelivers_unacknowledged(stack: Settings) -> None:
    async with Store(stack.redis) as store:
        log = AlertLog(store)
        await store.redis.xgroup_create(store.keys.stream, "care", id="0", mkstream=True)
        sink = RedisSink(store, cooldown_s=0)
        delivery = await sink.write([_alert(i, ["care", "default"]) for i in range(5)], [])
        assert delivery.written == 5
        again = await sink.write([_alert(i, ["care", "default"]) for i in range(5)], [])
        assert (again.written, again.duplicates) == (0, 5)  # idempotent redelivery
        assert await log.total_written() == 5

        seen: list[str] = []

        async def crash_on_third(alert: Alert) -> None:
            if len(seen) == 2:
                raise RuntimeError("care service crashed")
            seen.append(alert.comment_id)

        with pytest.raises(RuntimeError):
            await log.read("care", "worker-1", crash_on_third)
        assert seen == ["c0", "c1"]

        async def record(alert: Alert) -> None:
            seen.append(alert.comment_id)

        handled = await log.read("care", "worker-1", record, limit=3, block_ms=200)
        assert handled == 3 and seen == ["c0", "c1", "c2", "c3", "c4"]  # c2 came back first
        assert (await store.redis.xpending(store.keys.stream, "care"))["pending"] == 0


async def test_cooldown_suppresses_repeat_alerts_per_user(stack: Settings) -> None:
    async with Store(stack.redis) as base:
        store = base.with_prefix(stack.redis.key_prefix + "cd:")
        sink = RedisSink(store, cooldown_s=600)
        first, second = (
            _alert(1, ["care"]),
            _alert(2, ["care"]).model_copy(update={"user_id": "u1"}),
        )
        result = await sink.write([first, second], [])
        assert (result.written, result.suppressed) == (1, 1)
        state = await store.redis.hgetall(store.keys.user("u1"))
        assert state[b"alerts"] == b"2" and b"first_seen" in state and b"latest_score" in state
        ttl = await store.redis.ttl(store.keys.user("u1"))
        assert 0 < ttl <= stack.redis.user_state_ttl_s


async def test_a_policy_filter_reads_its_own_group_and_leaves_the_rest_unread(
    stack: Settings,
) -> None:
    """A reader filtering by policy acknowledges what it skips only in its own group; the
    team's unfiltered group still gets every alert."""
    async with Store(stack.redis) as base:
        store = base.with_prefix(stack.redis.key_prefix + "filter:")
        log = AlertLog(store)
        await RedisSink(store, cooldown_s=0).write(
            [_alert(1, ["default"]), _alert(2, ["care", "default"]), _alert(3, ["default"])], []
        )
        cared: list[str] = []

        async def care(alert: Alert) -> None:
            cared.append(alert.comment_id)

        await log.read("team", "w", care, policy="care", limit=1, block_ms=100)
        assert cared == ["c2"]
        everything: list[str] = []

        async def record(alert: Alert) -> None:
            everything.append(alert.comment_id)

        await log.read("team", "w", record, limit=3, block_ms=100)
        assert everything == ["c1", "c2", "c3"]


def test_alerts_tail_cli(stack: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("LOVELORN_HOME", str(tmp_path))
    monkeypatch.setenv("LOVELORN_REDIS__URL", stack.redis.url or "")
    monkeypatch.setenv("LOVELORN_REDIS__KEY_PREFIX", stack.redis.key_prefix + "cli:")

    async def write() -> None:
        async with Store(stack.redis) as base:
            store = base.with_prefix(stack.redis.key_prefix + "cli:")
            await RedisSink(store, cooldown_s=0).write(
                [_alert(7, ["care", "default"]), _alert(8, ["default"])], []
            )

    asyncio.run(write())
    result = run_cli("alerts", "tail", "--count", "1", "--policy", "care", "--json")
    assert result.code == 0, result.err
    assert '"comment_id":"c7"' in result.out


def test_alerts_tail_refuses_an_unknown_policy_and_acknowledges_nothing(
    stack: Settings,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path,  # type: ignore[no-untyped-def]
) -> None:
    """First-hour item 1: a typo in --policy used to acknowledge the whole queue silently."""
    prefix = stack.redis.key_prefix + "typo:"
    monkeypatch.setenv("LOVELORN_HOME", str(tmp_path))
    monkeypatch.setenv("LOVELORN_REDIS__URL", stack.redis.url or "")
    monkeypatch.setenv("LOVELORN_REDIS__KEY_PREFIX", prefix)

    async def write() -> None:
        async with Store(stack.redis) as base:
            store = base.with_prefix(prefix)
            await store.redis.xgroup_create(store.keys.stream, "care", id="0", mkstream=True)
            await RedisSink(store, cooldown_s=0).write([_alert(9, ["care", "default"])], [])

    async def unread() -> list[str]:
        async with Store(stack.redis) as base:
            store = base.with_prefix(prefix)
            reply = await store.redis.xreadgroup("care", "probe", {store.keys.stream: ">"})
            return [fields[b"alert_id"].decode() for _, fields in reply[0][1]] if reply else []

    asyncio.run(write())
    result = run_cli("alerts", "tail", "--group", "care", "--policy", "cares", "--count", "1")
    assert result.code == 2 and "unknown policy 'cares'" in result.err
    assert "known: ads, care, default" in result.err
    assert asyncio.run(unread()) == [alert_id("c9", "v1")]  # the care group still has its alert


async def test_live_alerts_the_stream_and_the_index_cursor(stack: Settings) -> None:
    """What the demo and the benches read, without touching a redis client."""
    from monitor.store import UserIndex

    async with Store(stack.redis) as base:
        store = base.with_prefix("live-test:")
        log, index = AlertLog(store), UserIndex(store)
        assert await log.last_entry() is None and await index.cursor() is None
        async with log.live() as alerts:  # subscribed on entry: nothing written later is missed
            await log.write([_alert(i, ["default"]) for i in range(3)])
            heard = [a.comment_id async for a in _first(alerts, 3)]
        assert heard == ["c0", "c1", "c2"]
        entries = await log.entries()
        assert [a.comment_id for _, a in entries] == heard
        assert await log.last_entry() == entries[-1][0]
        await index.catch_up()
        assert await index.cursor() == entries[-1][0]


async def _first(alerts, n: int):  # type: ignore[no-untyped-def]
    async for alert in alerts:
        yield alert
        n -= 1
        if n == 0:
            return
