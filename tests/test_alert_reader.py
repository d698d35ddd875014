"""How a care service reads alerts: consumer group, acks, redelivery after a crash."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from monitor.redis_client import connect_redis
from monitor.schemas import Alert, alert_id
from monitor.settings import Settings
from monitor.sinks.alert_reader import read_alerts
from monitor.sinks.redis import RedisKeys, RedisSink
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
    redis = connect_redis(stack.redis)
    keys = RedisKeys(stack.redis.key_prefix)
    try:
        await redis.xgroup_create(keys.stream, "care", id="$", mkstream=True)
        sink = RedisSink(stack.redis, redis, cooldown_s=0)
        delivery = await sink.write([_alert(i, ["care", "default"]) for i in range(5)], [])
        assert delivery.written == 5
        again = await sink.write([_alert(i, ["care", "default"]) for i in range(5)], [])
        assert (again.written, again.duplicates) == (0, 5)  # idempotent redelivery

        seen: list[str] = []

        async def crash_on_third(alert: Alert) -> None:
            if len(seen) == 2:
                raise RuntimeError("care service crashed")
            seen.append(alert.comment_id)

        with pytest.raises(RuntimeError):
            await read_alerts(redis, keys, "care", "worker-1", crash_on_third)
        assert seen == ["c0", "c1"]

        async def record(alert: Alert) -> None:
            seen.append(alert.comment_id)

        handled = await read_alerts(redis, keys, "care", "worker-1", record, limit=3, block_ms=200)
        assert handled == 3 and seen == ["c0", "c1", "c2", "c3", "c4"]  # c2 came back first
        assert (await redis.xpending(keys.stream, "care"))["pending"] == 0
    finally:
        await redis.aclose()


async def test_cooldown_suppresses_repeat_alerts_per_user(stack: Settings) -> None:
    redis = connect_redis(stack.redis)
    try:
        sink = RedisSink(
            stack.redis.model_copy(update={"key_prefix": stack.redis.key_prefix + "cd:"}),
            redis,
            cooldown_s=600,
        )
        first, second = (
            _alert(1, ["care"]),
            _alert(2, ["care"]).model_copy(update={"user_id": "u1"}),
        )
        result = await sink.write([first, second], [])
        assert (result.written, result.suppressed) == (1, 1)
        state = await redis.hgetall(f"{stack.redis.key_prefix}cd:user:u1")
        assert state[b"alerts"] == b"2" and b"first_seen" in state and b"latest_score" in state
        assert (
            0
            < await redis.ttl(f"{stack.redis.key_prefix}cd:user:u1")
            <= stack.redis.user_state_ttl_s
        )
    finally:
        await redis.aclose()


def test_alerts_tail_cli(stack: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import asyncio

    monkeypatch.setenv("LOVELORN_HOME", str(tmp_path))
    monkeypatch.setenv("LOVELORN_REDIS__URL", stack.redis.url or "")
    monkeypatch.setenv("LOVELORN_REDIS__KEY_PREFIX", stack.redis.key_prefix + "cli:")

    async def write() -> None:
        redis = connect_redis(stack.redis)
        sink = RedisSink(
            stack.redis.model_copy(update={"key_prefix": stack.redis.key_prefix + "cli:"}),
            redis,
            cooldown_s=0,
        )
        await sink.write([_alert(7, ["care", "default"]), _alert(8, ["default"])], [])
        await redis.aclose()

    asyncio.run(write())
    result = run_cli("alerts", "tail", "--from-start", "--count", "1", "--policy", "care", "--json")
    assert result.code == 0, result.err
    assert '"comment_id":"c7"' in result.out
