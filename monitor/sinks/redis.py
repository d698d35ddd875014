"""Alerts into Redis for care and ad services (the stream, pub/sub, per-user state).

The write itself lives at the Redis boundary (``monitor.store.AlertLog``); this sink only
turns an unavailable Redis into SinkBackpressure, so the scorer holds the batch and retries.
"""

from __future__ import annotations

from collections.abc import Sequence

from monitor.errors import SinkBackpressure, StoreUnavailable
from monitor.schemas import Alert, Score
from monitor.sinks.base import Delivery
from monitor.store import AlertLog, Store

__all__ = ["RedisSink"]


class RedisSink:
    name = "redis"

    def __init__(self, store: Store, *, cooldown_s: float) -> None:
        self.log = AlertLog(store, cooldown_s=cooldown_s)

    async def write(self, alerts: Sequence[Alert], scores: Sequence[Score]) -> Delivery:
        try:
            outcome = await self.log.write(alerts)
        except StoreUnavailable as exc:
            raise SinkBackpressure(f"Redis sink: {exc}", retry_after=1.0) from exc
        return Delivery(
            self.name,
            written=outcome.written,
            duplicates=outcome.duplicates,
            suppressed=outcome.suppressed,
        )
