"""Everything kept about one commenter, for export and erasure requests."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from typing import Any

from monitor.store.client import Store, as_text

__all__ = ["DataSubjects"]


class DataSubjects:
    """One commenter's data: ``user_ids`` are every form alerts may hold (the raw id, and its
    pseudonym in privacy mode). Kafka topics are not covered: they expire by retention."""

    def __init__(self, store: Store) -> None:
        self._store, self._redis, self.keys = store, store.redis, store.keys

    def _streams(self) -> dict[str, str]:
        k = self.keys
        return {
            "alerts": k.stream,
            "replay_alerts": k.replay().stream,
            "verdicts": k.verdicts,
            "review_lane": k.review_lane,
            "urgent": k.urgent,
        }

    async def export(self, user_ids: Sequence[str]) -> dict[str, Any]:
        out: dict[str, Any] = {"user_ids": list(user_ids)}
        for name, stream in self._streams().items():
            out[name] = [record async for _, record in self._matching(stream, user_ids)]
        with self._store.errors("reading per-user state"):
            for uid in user_ids:
                state = await self._redis.hgetall(self.keys.user(uid))
                cooldown = await self._redis.get(self.keys.cooldown(uid))
                out.setdefault("state", {})[uid] = {
                    as_text(k): as_text(v) for k, v in state.items()
                }
                out.setdefault("cooldown", {})[uid] = as_text(cooldown) if cooldown else None
        return out

    async def forget(self, user_ids: Sequence[str]) -> dict[str, int]:
        """Delete it all; returns how many entries or keys went, by kind."""
        removed: dict[str, int] = {}
        for name, stream in self._streams().items():
            ids = [entry_id async for entry_id, _ in self._matching(stream, user_ids)]
            if not ids:
                removed[name] = 0
                continue
            with self._store.errors(f"deleting from {name}"):
                removed[name] = int(await self._redis.xdel(stream, *ids))
                # out of every reader's pending list too, so no queue shows them again
                for group in await self._redis.xinfo_groups(stream):
                    await self._redis.xack(stream, group["name"], *ids)
        keys = [
            key
            for uid in user_ids
            for key in (self.keys.user(uid), self.keys.cooldown(uid), self.keys.user_alerts(uid))
        ]
        with self._store.errors("deleting per-user state"):
            removed["keys"] = int(await self._redis.delete(*keys))
        return removed

    async def _matching(
        self, stream: str, user_ids: Sequence[str], batch: int = 1000
    ) -> AsyncIterator[tuple[str, dict[str, Any]]]:
        wanted, start = set(user_ids), "-"
        while True:
            with self._store.errors(f"scanning {stream}"):
                entries = await self._redis.xrange(stream, start, "+", count=batch)
            for raw_id, fields in entries:
                record = _record(fields)
                user = as_text(fields[b"user"]) if b"user" in fields else record.get("user_id")
                if user in wanted:
                    yield as_text(raw_id), record
            if len(entries) < batch:
                return
            start = f"({as_text(entries[-1][0])}"


def _record(fields: dict[bytes, bytes]) -> dict[str, Any]:
    for name in (b"alert", b"verdict", b"sample"):
        if name in fields:
            try:
                value = json.loads(fields[name])
            except ValueError:
                return {}
            return value if isinstance(value, dict) else {}
    return {}
