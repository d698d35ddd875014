"""Model promotions on a Redis channel, so running scorers swap without waiting for a poll."""

from __future__ import annotations

from collections.abc import AsyncIterator

from monitor.store.client import Store

__all__ = ["announce", "announcements"]


async def announce(store: Store, message: str) -> int:
    """Publish a promotion; returns how many subscribers (running scorers) heard it."""
    with store.errors("announcing a model promotion"):
        return int(await store.redis.publish(store.keys.models, message))


async def announcements(store: Store) -> AsyncIterator[bytes]:
    """Every announcement from now on; StoreUnavailable ends it (the caller listens again)."""
    with store.errors("listening for model promotions"):
        async with store.redis.pubsub() as pubsub:
            await pubsub.subscribe(store.keys.models)
            async for message in pubsub.listen():
                if message.get("type") == "message":
                    yield message["data"]
