"""Where the poller stands: per-target cursors and per-post seen comment ids.

The seen set is a sorted set of comment id → first-seen time; entries older than
``seen_ttl_s`` count as unseen again and are trimmed, so the set stays bounded.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from monitor.schemas import Comment
from monitor.store.client import Store

__all__ = ["Cursors"]


class Cursors:
    def __init__(self, store: Store) -> None:
        self._store = store
        self._redis = store.redis
        self._keys = store.keys
        self._ttl = store.settings.seen_ttl_s

    async def unseen(self, comments: Sequence[Comment]) -> list[Comment]:
        """The comments not published before, each id once."""
        by_post: dict[str, list[Comment]] = {}
        for c in comments:
            by_post.setdefault(c.post_id, []).append(c)
        fresh: list[Comment] = []
        cutoff = time.time() - self._ttl
        with self._store.errors("reading seen comment ids"):
            for post_id, group in by_post.items():
                scores = await self._redis.zmscore(
                    self._keys.seen(post_id), [c.comment_id for c in group]
                )
                fresh += [c for c, s in zip(group, scores, strict=True) if s is None or s < cutoff]
        return list({c.comment_id: c for c in fresh}.values())

    async def mark_seen(self, comments: Sequence[Comment]) -> None:
        if not comments:
            return
        now = time.time()
        with self._store.errors("marking comments seen"):
            async with self._redis.pipeline(transaction=False) as pipe:
                for post_id in {c.post_id for c in comments}:
                    key = self._keys.seen(post_id)
                    pipe.zadd(key, {c.comment_id: now for c in comments if c.post_id == post_id})
                    pipe.zremrangebyscore(key, "-inf", now - self._ttl)
                    pipe.expire(key, self._ttl)
                await pipe.execute()

    async def get(self, target: str) -> str | None:
        with self._store.errors(f"reading the cursor of {target}"):
            value = await self._redis.get(self._keys.cursor(target))
        return value.decode() if value is not None else None

    async def set(self, target: str, value: str | None) -> None:
        with self._store.errors(f"moving the cursor of {target}"):
            if value is None:
                await self._redis.delete(self._keys.cursor(target))
            else:
                await self._redis.set(self._keys.cursor(target), value)
