"""Wiring for ``lovelorn poll``: producer, Redis, publisher, and the poller or a file replay."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import structlog

from monitor.bus import Producer
from monitor.errors import BusError
from monitor.metrics import Metrics
from monitor.retry import Clock, Retry
from monitor.settings import Settings
from monitor.sources.files import replay_file
from monitor.sources.poller import Poller, Target
from monitor.sources.publisher import Publisher
from monitor.sources.weibo import WeiboClient
from monitor.store import Cursors, Store

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
        transport: httpx.AsyncBaseTransport | None = None,
        after_publish: Callable[[], None] | None = None,
    ) -> None:
        self.settings = settings
        self.metrics = metrics or Metrics()
        self._targets = targets
        self._clock = clock
        self._transport = transport
        self._after_publish = after_publish
        self.poller: Poller | None = None
        self.ready = asyncio.Event()  # the producer is connected

    @contextlib.asynccontextmanager
    async def _publisher(self, stop: asyncio.Event) -> AsyncIterator[Publisher]:
        """A broker that is down at start is waited for (Stopped on SIGTERM), not fatal."""
        producer = Producer(self.settings.kafka, client_id="lovelorn-poller")
        await Retry("Kafka", base_s=1.0, cap_s=30.0, retry_on=(BusError,)).call(
            producer.start, stop=stop
        )
        store = Store(self.settings.redis)
        self.ready.set()
        try:
            yield Publisher(
                self.settings.kafka,
                producer,
                Cursors(store),
                self.metrics,
                after_publish=self._after_publish,
            )
        finally:
            await producer.stop()
            await store.aclose()

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
