"""Reading alerts the way a care service should: a Redis stream consumer group with acks.

Entries delivered but not acknowledged (the reader crashed) come back first on restart,
so every alert is handled at least once; ``alert_id`` lets the handler drop repeats.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from redis.asyncio import Redis
from redis.exceptions import ResponseError

from monitor.errors import SchemaError
from monitor.schemas import Alert, decode
from monitor.sinks.redis import RedisKeys

__all__ = ["read_alerts"]


async def read_alerts(
    redis: Redis,
    keys: RedisKeys,
    group: str,
    consumer: str,
    handle: Callable[[Alert], Awaitable[None]],
    *,
    from_start: bool = False,
    limit: int | None = None,
    block_ms: int = 1000,
    stop: Callable[[], bool] = lambda: False,
) -> int:
    """Hand each alert to ``handle``, then XACK it; returns how many were handled."""
    try:
        await redis.xgroup_create(keys.stream, group, id="0" if from_start else "$", mkstream=True)
    except ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise
    handled = 0
    position = "0"  # first our own pending (delivered, never acknowledged), then new ones
    while not stop() and (limit is None or handled < limit):
        count = 100 if limit is None else min(100, limit - handled)
        reply = await redis.xreadgroup(
            group, consumer, {keys.stream: position}, count=count, block=block_ms
        )
        entries = reply[0][1] if reply else []
        if position == "0" and not entries:
            position = ">"
            continue
        for entry_id, fields in entries:
            try:
                alert = decode(Alert, fields.get(b"alert"))
            except SchemaError:
                await redis.xack(keys.stream, group, entry_id)  # not ours to retry forever
                continue
            await handle(alert)
            await redis.xack(keys.stream, group, entry_id)
            handled += 1
            if limit is not None and handled >= limit:
                break
    return handled
