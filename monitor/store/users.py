"""People in Redis: the commenters alerts are about, and the reviewers who read them.

- ``UserIndex``: the console's index of each commenter's alerts (and alerts per hour by
  policy), built by tailing the alert stream, because the alert write keeps only counts per
  user and a page must not scan 100,000 entries to show someone's history.
- ``ReviewLane``: commenters' non-alerting comments that the scorer samples for review
  (written once each, SET NX like alerts), plus hourly histograms of every live score for
  the drift statistic.
- ``AuditLog``: who saw and decided what (a capped stream), for the people the alerts are
  about and for the teams accountable for them.
- ``DataSubjects``: everything kept about one commenter, for export and erasure requests.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import AsyncIterator, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from redis.exceptions import WatchError

from monitor.errors import SchemaError
from monitor.schemas import Alert, Score, decode, encode, utcnow
from monitor.store.client import Store
from monitor.store.verdicts import Sampled, score_bin

__all__ = ["AuditLog", "DataSubjects", "ReviewLane", "UserIndex"]

HISTORY = 50  # alerts kept per user in the index
HOURLY_TTL_S = 35 * 24 * 3600
HISTOGRAM_TTL_S = 8 * 24 * 3600


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class UserIndex:
    def __init__(self, store: Store) -> None:
        self._store, self._redis, self.keys = store, store.redis, store.keys

    async def catch_up(self, limit: int = 5000, chunk: int = 1000) -> int:
        """Index up to ``limit`` alerts written since the last call; returns how many. Safe to
        run in several consoles at once: the cursor is compare-and-set (WATCH)."""
        done = 0
        while done < limit:
            step = await self._step(min(chunk, limit - done))
            if step == 0:
                break
            done += step
        return done

    async def cursor(self) -> str | None:
        """The id of the last alert indexed (None before the first)."""
        with self._store.errors("reading the index cursor"):
            value = await self._redis.get(self.keys.index_cursor)
        return _text(value) if value else None

    async def _step(self, count: int) -> int:
        cursor_key = self.keys.index_cursor
        with self._store.errors("indexing alerts by user"):
            async with self._redis.pipeline(transaction=True) as pipe:
                try:
                    await pipe.watch(cursor_key)
                    cursor = await pipe.get(cursor_key)
                    start = f"({_text(cursor)}" if cursor else "-"
                    entries = await pipe.xrange(self.keys.stream, start, "+", count=count)
                    if not entries:
                        return 0
                    pipe.multi()
                    self._queue_updates(pipe, entries)
                    pipe.set(cursor_key, entries[-1][0])
                    await pipe.execute()
                except WatchError:
                    pass  # another console indexed these; carry on from its cursor
        return len(entries)

    def _queue_updates(
        self, pipe: Any, entries: Sequence[tuple[bytes, dict[bytes, bytes]]]
    ) -> None:
        users: set[str] = set()
        hourly: Counter[tuple[str, str]] = Counter()
        for raw_id, fields in entries:
            try:  # only three fields are needed: plain JSON is 4x faster than the model here
                data = json.loads(fields.get(b"alert") or b"{}")
                at = datetime.fromisoformat(data["emitted_at"]).astimezone(UTC)
            except (ValueError, KeyError, TypeError):
                continue
            if user := data.get("user_id"):
                pipe.zadd(self.keys.user_alerts(user), {raw_id: at.timestamp()})
                users.add(user)
            for policy in data.get("policies") or []:
                hourly[(f"{at:%Y%m%d}", f"{at:%H}|{policy}")] += 1
        for user in users:
            pipe.zremrangebyrank(self.keys.user_alerts(user), 0, -HISTORY - 1)
            pipe.expire(self.keys.user_alerts(user), self._store.settings.user_state_ttl_s)
        for (day, field), n in hourly.items():
            pipe.hincrby(self.keys.hourly(day), field, n)
            pipe.expire(self.keys.hourly(day), HOURLY_TTL_S)

    async def history(self, user_id: str, limit: int = 20) -> list[tuple[str, Alert]]:
        """The user's latest alerts still in the stream, newest first."""
        with self._store.errors("reading a user's alerts"):
            ids = await self._redis.zrevrange(self.keys.user_alerts(user_id), 0, limit - 1)
            async with self._redis.pipeline(transaction=False) as pipe:
                for entry_id in ids:
                    pipe.xrange(self.keys.stream, entry_id, entry_id, count=1)
                replies = await pipe.execute()
        found = []
        for entry_id, reply in zip(ids, replies, strict=True):
            try:
                found.append((_text(entry_id), decode(Alert, reply[0][1][b"alert"])))
            except (IndexError, KeyError, SchemaError):
                continue  # trimmed from the stream or unreadable
        return found

    async def hourly(self, days: Iterable[datetime]) -> dict[tuple[str, str], int]:
        """(``YYYYMMDDHH``, policy) → alerts, for the given UTC days."""
        out: dict[tuple[str, str], int] = {}
        with self._store.errors("reading alerts per hour"):
            for day in days:
                raw = await self._redis.hgetall(self.keys.hourly(f"{day:%Y%m%d}"))
                for field, n in raw.items():
                    hour, _, policy = _text(field).partition("|")
                    out[(f"{day:%Y%m%d}{hour}", policy)] = int(n)
        return out


# KEYS: dedupe, lane   ARGV: ttl, maxlen, sample id, user, sample json
_SAMPLE = """
if not redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[1]) then return 0 end
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], '*', 'sample_id', ARGV[3], 'user', ARGV[4], 'sample', ARGV[5])
return 1
"""


class ReviewLane:
    """What the scorer writes for review and drift; the console reads it back."""

    def __init__(self, store: Store) -> None:
        self._store, self._redis, self.keys = store, store.redis, store.keys
        self._script = store.redis.register_script(_SAMPLE)

    async def write(self, samples: Sequence[Sampled], scores: Sequence[Score]) -> int:
        """Each sample once (safe to repeat); every score counted into its hour's histogram
        (a batch redelivered after a crash counts twice: fine for a drift statistic)."""
        s = self._store.settings
        bins = Counter(
            (score.model_version, f"{score.scored_at:%Y%m%d%H}", score_bin(score.score))
            for score in scores
        )
        with self._store.errors(f"writing {len(samples)} review sample(s)"):
            async with self._redis.pipeline(transaction=False) as pipe:
                for sample in samples:
                    keys = [self.keys.sample(sample.sample_id), self.keys.review_lane]
                    args = [s.alert_dedupe_ttl_s, s.alert_stream_maxlen, sample.sample_id]
                    args += [sample.user_id or "", encode(sample)]
                    await self._script(keys=keys, args=args, client=pipe)
                for (version, hour, bin_), n in bins.items():
                    key = self.keys.score_histogram(version, hour)
                    pipe.hincrby(key, str(bin_), n)
                    pipe.expire(key, HISTOGRAM_TTL_S)
                if bins:
                    pipe.sadd(self.keys.score_versions, *{version for version, _, _ in bins})
                results = await pipe.execute()
        return sum(1 for r in results[: len(samples)] if r == 1)

    async def histogram(self, version: str, hours: Iterable[datetime]) -> Counter[int]:
        """Live score counts of ``version`` by bin, summed over the given hours."""
        total: Counter[int] = Counter()
        with self._store.errors(f"reading score histograms of {version}"):
            async with self._redis.pipeline(transaction=False) as pipe:
                for hour in hours:
                    pipe.hgetall(self.keys.score_histogram(version, f"{hour:%Y%m%d%H}"))
                for part in await pipe.execute():
                    total.update({int(k): int(v) for k, v in part.items()})
        return total

    async def versions(self) -> list[str]:
        with self._store.errors("reading scored model versions"):
            return sorted(_text(v) for v in await self._redis.smembers(self.keys.score_versions))


class AuditLog:
    def __init__(self, store: Store, *, maxlen: int = 1_000_000) -> None:
        self._store, self._redis, self.keys = store, store.redis, store.keys
        self._maxlen = maxlen

    async def record(self, who: str, action: str, **detail: str) -> None:
        """One entry: who, what, when, and ids (never comment texts)."""
        fields = {"at": utcnow().isoformat(), "who": who, "action": action, **detail}
        with self._store.errors(f"writing the audit log ({action})"):
            await self._redis.xadd(self.keys.audit, fields, maxlen=self._maxlen, approximate=True)

    async def recent(self, count: int = 100) -> list[dict[str, str]]:
        with self._store.errors("reading the audit log"):
            entries = await self._redis.xrevrange(self.keys.audit, count=count)
        return [{_text(k): _text(v) for k, v in fields.items()} for _, fields in entries]


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
                out.setdefault("state", {})[uid] = {_text(k): _text(v) for k, v in state.items()}
                out.setdefault("cooldown", {})[uid] = _text(cooldown) if cooldown else None
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
                user = _text(fields[b"user"]) if b"user" in fields else record.get("user_id")
                if user in wanted:
                    yield _text(raw_id), record
            if len(entries) < batch:
                return
            start = f"({_text(entries[-1][0])}"


def _record(fields: dict[bytes, bytes]) -> dict[str, Any]:
    for name in (b"alert", b"verdict", b"sample"):
        if name in fields:
            try:
                value = json.loads(fields[name])
            except ValueError:
                return {}
            return value if isinstance(value, dict) else {}
    return {}
