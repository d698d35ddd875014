"""Alerts in Redis: written once each by a Lua script, read by consumer groups with acks.

Writing: one script per alert takes the dedupe key (SET NX on the alert id, which is
stable per comment and model version) in the same atomic step as the stream entry, the
pub/sub message and the per-user state, so a redelivered batch adds nothing twice and a
crash between steps cannot leave a marked-but-missing alert.

Reading: a Redis stream consumer group, so every alert is handled at least once. Entries
delivered but never acknowledged come back first when the same member restarts; entries
another member left unacknowledged for ``redis.alert_reclaim_idle_s`` (it died, or its
container was replaced under a new name) are taken over with XAUTOCLAIM (``reclaim``,
also meant for the console's queues). A group is always created at the stream's start,
never at ``$``: a group created after alerts were written (a first reader, or one whose
Redis lost the group) must not skip them. A reader that filters by policy reads its own
group (``<group>:<policy>``): the entries it skips and acknowledges there stay unread in
every other group.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

import structlog
from redis.asyncio.client import PubSub
from redis.exceptions import ResponseError

from monitor.errors import SchemaError
from monitor.retry import Retry
from monitor.schemas import Alert, decode, encode, utcnow
from monitor.store.client import Store, as_text

__all__ = ["AlertLog", "Entry", "WriteOutcome", "reader_group", "reclaim"]

log = structlog.get_logger()
T = TypeVar("T")
Entry = tuple[bytes, dict[bytes, bytes]]  # stream id, fields

# KEYS: dedupe, user state, user cooldown, stream, counter
# ARGV: dedupe ttl, score, now, user ttl, cooldown s, stream maxlen, channel, alert json, alert id, has user
_SCRIPT = """
if not redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[1]) then return 0 end
if ARGV[10] == '1' then
  redis.call('HINCRBY', KEYS[2], 'alerts', 1)
  redis.call('HSET', KEYS[2], 'latest_score', ARGV[2], 'last_seen', ARGV[3], 'last_alert_id', ARGV[9])
  redis.call('HSETNX', KEYS[2], 'first_seen', ARGV[3])
  redis.call('EXPIRE', KEYS[2], ARGV[4])
  if tonumber(ARGV[5]) > 0 then
    if not redis.call('SET', KEYS[3], ARGV[9], 'NX', 'EX', ARGV[5]) then return 2 end
  end
end
redis.call('XADD', KEYS[4], 'MAXLEN', '~', ARGV[6], '*', 'alert_id', ARGV[9], 'alert', ARGV[8])
redis.call('INCR', KEYS[5])
redis.call('PUBLISH', ARGV[7], ARGV[8])
return 1
"""


@dataclass
class WriteOutcome:
    written: int = 0
    duplicates: int = 0
    suppressed: int = 0  # within the user's cooldown


def reader_group(group: str, policy: str | None) -> str:
    return f"{group}:{policy}" if policy else group


# KEYS: stream; ARGV: group, consumer, min idle ms, start id, count.
# JUSTID and XRANGE, not plain XAUTOCLAIM: Redis 6.2 answers an entry deleted from the
# stream (trimmed, or a data-subject erasure) with nil and no id, so it could never be
# acknowledged; here it is acknowledged by id (Redis 7 drops it from the pending list itself).
_RECLAIM = """
local reply = redis.call('XAUTOCLAIM', KEYS[1], ARGV[1], ARGV[2], ARGV[3], ARGV[4], 'COUNT', ARGV[5], 'JUSTID')
local entries = {}
for _, id in ipairs(reply[2]) do
  local found = redis.call('XRANGE', KEYS[1], id, id)
  if #found == 0 then redis.call('XACK', KEYS[1], ARGV[1], id) else entries[#entries + 1] = found[1] end
end
return {reply[1], entries}
"""


async def reclaim(
    store: Store, stream: str, group: str, consumer: str, *, min_idle_s: float, count: int = 100
) -> list[Entry]:
    """Take over up to ``count`` entries of ``group`` that were delivered and then left
    unacknowledged for ``min_idle_s`` (by any member, ``consumer`` included), oldest first.

    Without this a member that dies keeps its pending entries forever: Redis redelivers
    them only to a reader with the same consumer name. The entries become ``consumer``'s
    own pending ones, to handle and acknowledge. A missing group has nothing to reclaim.
    """
    script = store.redis.register_script(_RECLAIM)
    idle_ms = max(1, round(min_idle_s * 1000))
    entries: list[Entry] = []
    cursor: bytes | str = "0-0"
    with store.errors(f"reclaiming idle entries of {group} on {stream}"):
        while len(entries) < count:
            try:
                cursor, found = await script(
                    keys=[stream], args=[group, consumer, idle_ms, cursor, count - len(entries)]
                )
            except ResponseError as exc:
                if "NOGROUP" not in str(exc):
                    raise
                return []
            for entry_id, flat in found:  # fields come flat: name, value, name, value …
                entries.append((entry_id, dict(zip(flat[::2], flat[1::2], strict=True))))
            if cursor in (b"0-0", "0-0"):  # the whole pending list was scanned
                break
    if entries:
        log.info("reclaimed", stream=stream, group=group, consumer=consumer, entries=len(entries))
    return entries


class AlertLog:
    def __init__(self, store: Store, *, cooldown_s: float = 0.0) -> None:
        self._store = store
        self._redis = store.redis
        self.keys = store.keys
        self._settings = store.settings
        self._cooldown_s = math.ceil(cooldown_s)
        self._script = store.redis.register_script(_SCRIPT)

    @property
    def counter_key(self) -> str:
        return f"{self.keys.stream}:count"

    async def write(self, alerts: Sequence[Alert]) -> WriteOutcome:
        """Each alert once; safe to call again with the same alerts."""
        outcome = WriteOutcome()
        if not alerts:
            return outcome
        now = utcnow().isoformat()
        s = self._settings
        with self._store.errors(f"writing {len(alerts)} alert(s)"):
            async with self._redis.pipeline(transaction=False) as pipe:
                for alert in alerts:
                    user = alert.user_id or ""
                    await self._script(
                        keys=[
                            self.keys.dedupe(alert.alert_id),
                            self.keys.user(user),
                            self.keys.cooldown(user),
                            self.keys.stream,
                            self.counter_key,
                        ],
                        args=[
                            s.alert_dedupe_ttl_s,
                            f"{alert.score:.6f}",
                            now,
                            s.user_state_ttl_s,
                            self._cooldown_s,
                            s.alert_stream_maxlen,
                            self.keys.channel,
                            encode(alert),
                            alert.alert_id,
                            "1" if user else "0",
                        ],
                        client=pipe,
                    )
                results = await pipe.execute()
        for result in results:
            if result == 1:
                outcome.written += 1
            elif result == 2:
                outcome.suppressed += 1
            else:
                outcome.duplicates += 1
        return outcome

    async def total_written(self) -> int:
        """How many distinct alerts were ever written (not capped like the stream)."""
        with self._store.errors("reading the alert counter"):
            value = await self._redis.get(self.counter_key)
        return int(value or 0)

    @contextlib.asynccontextmanager
    async def live(self) -> AsyncIterator[AsyncIterator[Alert]]:
        """Subscribed on entry: each alert written from then on (the pub/sub channel; a
        watcher that is not listening misses it, so consumers that must see all ``read``)."""
        with self._store.errors("listening for live alerts"):
            async with self._redis.pubsub() as pubsub:
                await pubsub.subscribe(self.keys.channel)
                yield self._published(pubsub)

    async def _published(self, pubsub: PubSub) -> AsyncIterator[Alert]:
        with self._store.errors("listening for live alerts"):
            async for message in pubsub.listen():
                if message.get("type") == "message":
                    yield decode(Alert, message["data"])

    async def entries(self) -> list[tuple[str, Alert]]:
        """Every alert still in the stream, oldest first, with its entry id (audits)."""
        with self._store.errors("reading the alert stream"):
            raw = await self._redis.xrange(self.keys.stream)
        return [(as_text(entry), decode(Alert, fields[b"alert"])) for entry, fields in raw]

    async def last_entry(self) -> str | None:
        with self._store.errors("reading the alert stream"):
            raw = await self._redis.xrevrange(self.keys.stream, count=1)
        return as_text(raw[0][0]) if raw else None

    async def read(
        self,
        group: str,
        consumer: str,
        handle: Callable[[Alert], Awaitable[None]],
        *,
        policy: str | None = None,
        limit: int | None = None,
        block_ms: int = 1000,
        reclaim_idle_s: float | None = None,
        retry: Retry | None = None,
        stop: asyncio.Event | None = None,
    ) -> int:
        """Hand each alert (satisfying ``policy``, when given) to ``handle``, then XACK it.

        Order: this member's own pending entries, then entries other members left
        unacknowledged for ``reclaim_idle_s`` (default ``redis.alert_reclaim_idle_s``;
        looked for again every half of it), then new ones. Returns how many were handed
        over. With ``retry``, a Redis outage is waited out (Stopped when ``stop`` is set
        meanwhile); without, StoreUnavailable escapes.
        """
        group = reader_group(group, policy)
        idle_s = self._settings.alert_reclaim_idle_s if reclaim_idle_s is None else reclaim_idle_s

        async def call(operation: Callable[[], Awaitable[T]]) -> T:
            if retry is None:
                return await operation()
            return await retry.call(operation, stop=stop)

        await call(lambda: self._ensure_group(group))
        handled = 0
        position = "0"  # first our own pending (delivered, never acknowledged), then new ones
        reclaim_at = 0.0  # monotonic time of the next look for what dead members left
        while not (stop is not None and stop.is_set()) and (limit is None or handled < limit):
            count = 100 if limit is None else min(100, limit - handled)
            if position == ">" and time.monotonic() >= reclaim_at:
                entries = await call(
                    lambda n=count: reclaim(
                        self._store, self.keys.stream, group, consumer, min_idle_s=idle_s, count=n
                    )
                )
                if len(entries) < count:  # none left idle: look again in a while
                    reclaim_at = time.monotonic() + idle_s / 2
            else:
                entries = await call(
                    lambda p=position, n=count: self._next(group, consumer, p, n, block_ms)
                )
                if position == "0" and not entries:
                    position = ">"
                    continue
            for entry_id, fields in entries:
                try:
                    alert: Alert | None = decode(Alert, fields.get(b"alert"))
                except SchemaError as exc:
                    log.warning("alert_unreadable", entry=entry_id, error=str(exc))
                    alert = None  # not ours to retry forever
                if alert is not None and (policy is None or policy in alert.policies):
                    await handle(alert)
                    handled += 1
                await call(lambda entry=entry_id: self._ack(group, entry))
                if limit is not None and handled >= limit:
                    break
        return handled

    async def _ensure_group(self, group: str) -> None:
        """Create ``group`` at the stream's start (see the module docstring); creating it
        for a stream that already holds alerts is logged, once, with how many it holds."""
        stream = self.keys.stream
        with self._store.errors(f"creating reader group {group}"):
            try:
                await self._redis.xgroup_create(stream, group, id="0", mkstream=True)
            except ResponseError as exc:
                if "BUSYGROUP" not in str(exc):
                    raise
                return  # it exists: whoever created it logged it
            backlog = int(await self._redis.xlen(stream))
        if backlog:
            log.info("reader_group_created", stream=stream, group=group, from_oldest=backlog)

    async def _next(
        self, group: str, consumer: str, position: str, count: int, block_ms: int
    ) -> list[Entry]:
        with self._store.errors(f"reading alerts as {group}/{consumer}"):
            try:
                reply = await self._redis.xreadgroup(
                    group, consumer, {self.keys.stream: position}, count=count, block=block_ms
                )
            except ResponseError as exc:
                if "NOGROUP" not in str(exc):
                    raise
                # The group is gone (Redis restarted without persistence, or it was
                # deleted): recreate it at the start, so alerts written since are not skipped.
                await self._ensure_group(group)
                return []
        return list(reply[0][1]) if reply else []

    async def _ack(self, group: str, entry_id: bytes) -> None:
        with self._store.errors(f"acknowledging alert {entry_id!r}"):
            await self._redis.xack(self.keys.stream, group, entry_id)
