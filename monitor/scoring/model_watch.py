"""Hot model swap: notice a promotion (Redis announcement, or the registry pointer changing)
and load the new version in the background; the scorer swaps between batches."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import structlog

from monitor.errors import StoreError
from monitor.model import ModelRegistry, Predictor
from monitor.store import Store, announcements

__all__ = ["ModelWatcher"]

log = structlog.get_logger()

Loader = Callable[[str], Awaitable[Predictor]]


class ModelWatcher:
    """Loads each newly promoted version once and hands it over through ``take()``.

    The Redis announcement makes swaps prompt; polling the pointer every ``poll_s`` makes
    them certain, even if the announcement was missed or Redis is down.
    """

    def __init__(
        self,
        registry: ModelRegistry,
        load: Loader,
        store: Store | None,
        *,
        current_version: str,
        poll_s: float = 5.0,
    ) -> None:
        self._registry = registry
        self._load = load
        self._store = store
        self._poll_s = poll_s
        self._loaded_version = current_version
        self._ready: Predictor | None = None
        self._wakeup = asyncio.Event()

    def take(self) -> Predictor | None:
        """The newly loaded predictor, once; None when nothing new is ready."""
        ready, self._ready = self._ready, None
        return ready

    async def run(self) -> None:
        listener = asyncio.create_task(self._listen()) if self._store is not None else None
        try:
            while True:
                try:
                    await asyncio.wait_for(self._wakeup.wait(), timeout=self._poll_s)
                except TimeoutError:
                    pass
                self._wakeup.clear()
                await self._check()
        finally:
            if listener:
                listener.cancel()
                await asyncio.gather(listener, return_exceptions=True)

    async def _check(self) -> None:
        target = self._registry.current()
        if target is None or target == self._loaded_version:
            return
        try:
            predictor = await self._load(target)
        except Exception as exc:  # a broken version must not stop scoring with the current one
            log.error("model_load_failed", version=target, error=str(exc))
            self._loaded_version = target  # do not retry a broken version in a loop
            return
        previous, self._ready = self._ready, predictor
        if previous is not None:
            previous.close()
        self._loaded_version = target
        log.info("model_loaded", version=target)

    async def _listen(self) -> None:
        """Announcements are only a hint: while Redis is away, polling carries on."""
        assert self._store is not None
        while True:
            try:
                async for _ in announcements(self._store):
                    self._wakeup.set()
            except StoreError as exc:
                log.debug("model_announcements_unavailable", error=str(exc))
            await asyncio.sleep(self._poll_s)
