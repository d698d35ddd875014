"""Wiring for ``lovelorn poll``: producer, Redis, publisher, and the poller or a file replay."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import structlog

from monitor.bus import Producer
from monitor.errors import BusError
from monitor.metrics import Metrics
from monitor.redis_client import connect_redis
from monitor.retry import Backoff, Clock
from monitor.settings import Settings
from monitor.sources.files import replay_file
from monitor.sources.poller import Poller, Target
from monitor.sources.publisher import CursorStore, Publisher
from monitor.sources.weibo import WeiboClient

__all__ = ["PollerService"]

log = structlog.get_logger()


class PollerService:
    def __init__(
        self,
        settings: Settings,
        *,
        metrics: Metrics | None = None,
        targets: list[Target] | None = None,
        clock: Clock | None = None,
        transport=None,
    ) -> None:  # type: ignore[no-untyped-def]
        self.settings = settings
        self.metrics = metrics or Metrics()
        self._targets = targets
        self._clock = clock
        self._transport = transport
        self.poller: Poller | None = None

    @contextlib.asynccontextmanager
    async def _publisher(self, stop: asyncio.Event):  # type: ignore[no-untyped-def]
        redis = connect_redis(self.settings.redis)
        producer = Producer(self.settings.kafka, client_id="lovelorn-poller")
        backoff = Backoff(1.0, 30.0)
        while True:  # a broker that is down at start is waited for, not fatal
            try:
                await producer.start()
                break
            except BusError as exc:
                if stop.is_set():
                    await redis.aclose()
                    raise
                delay = backoff.next()
                log.warning("broker_unavailable", error=str(exc), retry_in_s=delay)
                await asyncio.sleep(delay)
        try:
            yield Publisher(
                self.settings,
                producer,
                CursorStore(redis, self.settings.redis.key_prefix, self.settings.redis.seen_ttl_s),
                self.metrics,
            )
        finally:
            await producer.stop()
            await redis.aclose()

    async def run(self, stop: asyncio.Event) -> None:
        async with self._publisher(stop) as publisher:
            client = WeiboClient(
                self.settings.weibo,
                metrics=self.metrics,
                clock=self._clock,
                transport=self._transport,
            )
            try:
                self.poller = Poller(
                    self.settings.weibo,
                    client,
                    publisher,
                    metrics=self.metrics,
                    clock=self._clock,
                    targets=self._targets,
                )
                log.info("poller_started", targets=[t.key for t in self.poller.targets])
                await self.poller.run(stop)
            finally:
                await client.aclose()

    async def replay(
        self, path: Path, *, speed: float, stop: asyncio.Event, progress: bool
    ) -> dict[str, int]:
        async with self._publisher(stop) as publisher:
            return await replay_file(path, publisher, speed=speed, stop=stop, progress=progress)
