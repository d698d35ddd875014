"""``Store``: the Redis client plus the monitor's keys, shared by the parts that use Redis."""

from __future__ import annotations

import contextlib
from typing import Self

from redis.asyncio import Redis

from monitor.settings import RedisSettings
from monitor.store.connection import connect, translate_errors
from monitor.store.keys import Keys

__all__ = ["Store", "as_text"]


class Store:
    """Owns its client when it opened it (``Store(settings)``), not when given one."""

    def __init__(self, settings: RedisSettings, redis: Redis | None = None) -> None:
        self.settings = settings
        self.keys = Keys(settings.key_prefix)
        self._owns = redis is None
        self.redis = redis if redis is not None else connect(settings)

    def errors(self, what: str) -> contextlib.AbstractContextManager[None]:
        """redis-py errors inside become StoreError / StoreUnavailable naming ``what``."""
        return translate_errors(what, self.settings.url)

    def with_prefix(self, prefix: str) -> Store:
        """The same client under other keys (replay writes beside the live stream)."""
        return Store(self.settings.model_copy(update={"key_prefix": prefix}), self.redis)

    async def ping(self) -> None:
        with self.errors("PING"):
            await self.redis.ping()

    async def aclose(self) -> None:
        if self._owns:
            await self.redis.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


def as_text(value: bytes | str) -> str:
    """A Redis reply as text (the client returns bytes)."""
    return value.decode() if isinstance(value, bytes) else value
