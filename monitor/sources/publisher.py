"""Publish comments to Kafka exactly as the monitor needs: no loss, no duplicates downstream.

Order of a publish (per page of comments):
  1. drop ids already in the seen set (Redis, per post, entries expire after ``seen_ttl_s``)
  2. produce the rest (key = post id) and wait until the broker has acknowledged every one
  3. only then mark them seen and advance the caller's cursor

A crash between 2 and 3 republishes that page once (at-least-once); a broker outage fails
step 2, so nothing is marked and nothing is lost.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from monitor.bus import Producer
from monitor.errors import BusError
from monitor.metrics import Metrics
from monitor.schemas import Comment, encode
from monitor.settings import Settings

__all__ = ["CursorStore", "Publisher"]


class CursorStore:
    """Per-target cursors and per-post seen ids in Redis."""

    def __init__(self, redis: Redis, prefix: str, seen_ttl_s: int) -> None:
        self._redis = redis
        self._prefix = prefix
        self._ttl = seen_ttl_s

    def _seen_key(self, post_id: str) -> str:
        return f"{self._prefix}seen:{post_id}"

    def _cursor_key(self, target: str) -> str:
        return f"{self._prefix}cursor:{target}"

    async def unseen(self, comments: Sequence[Comment]) -> list[Comment]:
        by_post: dict[str, list[Comment]] = {}
        for c in comments:
            by_post.setdefault(c.post_id, []).append(c)
        fresh: list[Comment] = []
        for post_id, group in by_post.items():
            scores = await self._redis.zmscore(
                self._seen_key(post_id), [c.comment_id for c in group]
            )
            cutoff = time.time() - self._ttl
            fresh += [c for c, s in zip(group, scores, strict=True) if s is None or s < cutoff]
        # the same id twice in one page counts once
        return list({c.comment_id: c for c in fresh}.values())

    async def mark_seen(self, comments: Sequence[Comment]) -> None:
        now = time.time()
        async with self._redis.pipeline(transaction=False) as pipe:
            for post_id in {c.post_id for c in comments}:
                key = self._seen_key(post_id)
                pipe.zadd(key, {c.comment_id: now for c in comments if c.post_id == post_id})
                pipe.zremrangebyscore(key, "-inf", now - self._ttl)  # keeps the set bounded
                pipe.expire(key, self._ttl)
            await pipe.execute()

    async def get(self, target: str) -> str | None:
        value = await self._redis.get(self._cursor_key(target))
        return value.decode() if value is not None else None

    async def set(self, target: str, value: str | None) -> None:
        if value is None:
            await self._redis.delete(self._cursor_key(target))
        else:
            await self._redis.set(self._cursor_key(target), value)


class Publisher:
    def __init__(
        self, settings: Settings, producer: Producer, cursors: CursorStore, metrics: Metrics
    ) -> None:
        self._topic = settings.kafka.comments_topic
        self._producer = producer
        self.cursors = cursors
        self._published = metrics.counter(
            "comments_published", "Comments acknowledged by the broker", ("source",)
        )
        self._duplicates = metrics.counter(
            "duplicates_skipped", "Comments already published before", ("source",)
        )

    async def publish(self, comments: Sequence[Comment], *, source: str) -> int:
        """Steps 1–3 above except the cursor; returns how many were new. Raises BusError
        (nothing marked) when the broker does not acknowledge, or Redis errors."""
        fresh = await self.cursors.unseen(comments)
        self._duplicates.labels(source).inc(len(comments) - len(fresh))
        if not fresh:
            return 0
        acks = [
            await self._producer.send(self._topic, encode(c), key=c.post_id.encode()) for c in fresh
        ]
        results = await asyncio.gather(*acks, return_exceptions=True)
        failed = next((r for r in results if isinstance(r, BaseException)), None)
        if failed is not None:
            if isinstance(failed, BusError):
                raise failed
            raise BusError(f"producing to {self._topic}: {failed}") from failed
        await self.cursors.mark_seen(fresh)
        self._published.labels(source).inc(len(fresh))
        return len(fresh)


REDIS_ERRORS = (RedisConnectionError, RedisTimeoutError)
