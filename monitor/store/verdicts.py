"""Review at the Redis boundary: the team queues, the verdicts and the review lane.

Queue: a team reads a stream through its own consumer group (``console:<team>``, and
``console:<team>:<policy>`` for a policy view, like ``AlertLog.read``), as one consumer,
so its reviewers share one queue. Entries stay pending until a verdict: the queue *is* the
group's pending list, topped up to ``window`` entries, so a crashed console loses nothing.
A policy view acknowledges what it skips in its own group only. Entries whose verdict was
undone come back from the team's ``returned`` set (``decisions``). Seen by one reviewer,
the queue leaves out what a teammate has claimed (``claims``): no two open the same item.
Verdicts: ``decisions.Decisions`` records one atomically (verdict, count, decided mark,
acknowledgements); a team decides once, and a verdict refused says why.
Lanes: ``alerts`` is the alert stream; ``sample`` is the review lane of sampled
non-alerting comments (``users.ReviewLane``), reviewed to estimate recall.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Iterable, Sequence

from redis.exceptions import ResponseError

from monitor.errors import SchemaError
from monitor.schemas import Alert, Lane, Sampled, Verdict, decode
from monitor.store.alerts import reader_group
from monitor.store.client import Store, as_text
from monitor.store.decisions import DECIDED_TTL_S, Decisions

__all__ = [
    "DECIDED_TTL_S",
    "Item",
    "ReviewQueue",
    "VerdictLog",
    "score_bin",
]

BIN_WIDTH = 0.25  # in logit units; bins -40..40 cover scores from 4.5e-5 to 1 - 4.5e-5
_TOP_UP_ROUNDS = 5  # a rare policy must not scan the whole stream on one page view


def score_bin(score: float) -> int:
    """The histogram bin of a score: its logit in steps of BIN_WIDTH, clipped to ±40."""
    p = min(max(score, 1e-9), 1 - 1e-9)
    return max(-40, min(40, round(math.log(p / (1 - p)) / BIN_WIDTH)))


Item = Alert | Sampled


def _item_id(item: Item) -> str:
    return item.alert_id if isinstance(item, Alert) else item.sample_id


class ReviewQueue:
    """One team's view of one lane (optionally one policy), as described above."""

    CONSUMER = "console"

    def __init__(
        self,
        store: Store,
        *,
        team: str,
        lane: Lane = "alerts",
        policy: str | None = None,
        window: int = 100,
        cache: dict[str, Item] | None = None,
        reviewer: str | None = None,
    ) -> None:
        self._store, self._redis, self._keys = store, store.redis, store.keys
        self.team, self.lane, self.policy, self.window = team, lane, policy, window
        self.reviewer = reviewer  # None: an overview that ignores claims
        self.stream = self._keys.stream if lane == "alerts" else self._keys.review_lane
        self.group = reader_group(f"console:{team}", policy)
        self._kind: type[Item] = Alert if lane == "alerts" else Sampled
        self._cache = cache if cache is not None else {}

    async def entries(self) -> list[tuple[str, Item]]:
        """(stream id, item) of every undecided entry in the queue, oldest delivery first,
        then those whose verdict was undone."""
        with self._store.errors(f"reading the {self.group} queue"):
            ids = await self._pending()
            if len(ids) < self.window:
                await self._top_up(self.window - len(ids))
                ids = await self._pending()
            returned = self._keys.returned(self.team, self.lane)
            back = [as_text(i) for i in await self._redis.zrange(returned, 0, self.window - 1)]
            pending = set(ids)
            ids += [i for i in back if i not in pending]
            loaded = await self._load(ids)
            gone = [i for i in ids if i not in loaded]
            state = await self._states([loaded[i] for i in ids if i in loaded])
            done = [i for i in ids if i in loaded and state.get(_item_id(loaded[i])) == "decided"]
            if gone or done:
                await self._redis.xack(self.stream, self.group, *gone, *done)
                if back:
                    await self._redis.zrem(returned, *gone, *done)
        return [
            (i, item)
            for i, item in ((i, loaded[i]) for i in ids if i in loaded)
            if _item_id(item) not in state and self._wanted(item)
        ]

    async def get(self, entry_id: str) -> Item | None:
        """One entry, read from Redis (never the cache: a forgotten user's entry is gone)."""
        with self._store.errors(f"reading entry {entry_id}"):
            reply = await self._redis.xrange(self.stream, entry_id, entry_id, count=1)
        return self._decode(reply[0][1]) if reply else None

    async def waiting(self) -> int | None:
        """Entries the team has not decided yet (pending + not yet delivered), if Redis says."""
        with self._store.errors(f"measuring the {self.group} queue"):
            for info in await self._redis.xinfo_groups(self.stream):
                if as_text(info["name"]) == self.group:
                    lag = info.get("lag")
                    return None if lag is None else int(lag) + int(info["pending"])
        return None

    async def _pending(self) -> list[str]:
        """The group's pending ids; creates the group (from the stream's start) if missing."""
        try:
            rows = await self._redis.xpending_range(
                self.stream, self.group, "-", "+", self.window, self.CONSUMER
            )
        except ResponseError as exc:
            if "NOGROUP" not in str(exc):
                raise
            try:  # a new team or view, or Redis restarted without persistence
                await self._redis.xgroup_create(self.stream, self.group, id="0", mkstream=True)
            except ResponseError as race:
                if "BUSYGROUP" not in str(race):
                    raise
            return []
        return [as_text(row["message_id"]) for row in rows]

    async def _top_up(self, want: int) -> None:
        for _ in range(_TOP_UP_ROUNDS):
            reply = await self._redis.xreadgroup(
                self.group, self.CONSUMER, {self.stream: ">"}, count=want
            )
            entries = list(reply[0][1]) if reply else []
            if not entries:
                return
            kept: dict[str, Item] = {}
            skip: list[str] = []
            for raw_id, fields in entries:
                entry_id, item = as_text(raw_id), self._decode(fields)
                if item is None or not self._wanted(item):
                    skip.append(entry_id)
                else:
                    kept[entry_id] = self._cache[f"{self.stream}/{entry_id}"] = item
            state = await self._states(list(kept.values()))
            skip += [i for i, item in kept.items() if state.get(_item_id(item)) == "decided"]
            if skip:
                await self._redis.xack(self.stream, self.group, *skip)
            want -= len(entries) - len(skip)
            if want <= 0:
                return

    async def _load(self, ids: Sequence[str]) -> dict[str, Item]:
        found = {
            i: self._cache[f"{self.stream}/{i}"] for i in ids if f"{self.stream}/{i}" in self._cache
        }
        missing = [i for i in ids if i not in found]
        if missing:
            async with self._redis.pipeline(transaction=False) as pipe:
                for entry_id in missing:
                    pipe.xrange(self.stream, entry_id, entry_id, count=1)
                replies = await pipe.execute()
            for entry_id, reply in zip(missing, replies, strict=True):
                item = self._decode(reply[0][1]) if reply else None
                if item is not None:
                    found[entry_id] = self._cache[f"{self.stream}/{entry_id}"] = item
        while len(self._cache) > 20 * self.window + 10_000:  # oldest first: dicts keep order
            self._cache.pop(next(iter(self._cache)))
        return found

    def _wanted(self, item: Item) -> bool:
        return not self.policy or self.policy in getattr(item, "policies", [])

    async def _states(self, items: Sequence[Item]) -> dict[str, str]:
        """Item id → ``decided`` by the team, or ``claimed`` by a teammate of the reviewer
        (it is open on their page); open items are left out."""
        if not items:
            return {}
        ids, k = [_item_id(item) for item in items], self._keys
        flags = await self._redis.mget([f(self.team, i) for i in ids for f in (k.decided, k.claim)])
        out = {}
        for n, i in enumerate(ids):
            decided, holder = flags[2 * n : 2 * n + 2]
            if decided is not None:
                out[i] = "decided"
            elif holder is not None and self.reviewer and as_text(holder) != self.reviewer:
                out[i] = "claimed"
        return out

    def _decode(self, fields: dict[bytes, bytes]) -> Item | None:
        try:
            return decode(self._kind, fields.get(b"alert") or fields.get(b"sample"))
        except SchemaError:
            return None  # unreadable: acknowledged and skipped, as AlertLog.read does


class VerdictLog:
    def __init__(self, store: Store) -> None:
        self._store, self._redis, self.keys = store, store.redis, store.keys
        self._decisions = Decisions(store)

    async def record(self, verdict: Verdict, entry_id: str, groups: Iterable[str]) -> str | None:
        """Append ``verdict`` and acknowledge ``entry_id`` in ``groups`` at once (no undo
        window); the verdict's stream id, or None when refused (``Decisions.record``)."""
        return (await self._decisions.record(verdict, entry_id, groups)).verdict_id

    async def scan(self, batch: int = 1000) -> AsyncIterator[tuple[str, Verdict]]:
        """Every verdict, oldest first, as (stream id, verdict)."""
        start = "-"
        while True:
            with self._store.errors("reading verdicts"):
                entries = await self._redis.xrange(self.keys.verdicts, start, "+", count=batch)
            for raw_id, fields in entries:
                try:
                    yield as_text(raw_id), decode(Verdict, fields.get(b"verdict"))
                except SchemaError:
                    continue
            if len(entries) < batch:
                return
            start = f"({as_text(entries[-1][0])}"

    async def labels(self) -> dict[str, bool]:
        """Comment id → the latest decided verdict is lovelorn ("unsure" is no label)."""
        return {v.comment_id: v.label == 1 async for _, v in self.scan() if v.label is not None}

    async def counts(self) -> dict[str, int]:
        """``lane|policy|model version|verdict`` → how many verdicts."""
        with self._store.errors("reading verdict counts"):
            raw = await self._redis.hgetall(self.keys.verdict_counts)
        return {as_text(k): int(v) for k, v in raw.items()}
