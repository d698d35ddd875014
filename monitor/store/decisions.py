"""Verdicts written and taken back, each in one Lua script so no step happens without the rest.

Recording refuses two kinds of verdict and says which, so the page can tell the reviewer
rather than pretend: one on an item a teammate holds a claim on (``claimed``: they have it
open, ``claims.Claims``), and one on an item the team already decided (``second``: a team
decides once, SET NX on ``decided:<team>:<id>``). Otherwise it appends the verdict to the
verdict stream, counts it, releases the claim, escalates an urgent one, and acknowledges
the entry in every group of the team.

Undo: a misclick must not become training data. With an undo window, what undoing needs
(the verdict's stream id, its counts, its escalation entry, the stream entry) is kept under
``undo:<team>:<id>`` for the window. Undoing within it deletes the verdict, its counts and
its escalation entry, clears the decided mark, gives the reviewer the claim back and puts
the entry in the team's ``returned`` set, which the queue serves beside its pending list:
an acknowledged entry cannot be made pending again, and holding every entry back for the
window instead would fill the queue with decided ones. An escalation already published on
the live channel cannot be recalled.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from monitor.schemas import encode
from monitor.store.client import Store, as_text

if TYPE_CHECKING:
    from monitor.schemas import Verdict

__all__ = ["DECIDED_TTL_S", "Decision", "Decisions", "Undo"]

DECIDED_TTL_S = 90 * 24 * 3600

# KEYS: decided, verdicts, counts, source stream, urgent stream, claim, undo, returned
# ARGV: ttl, verdict json, entry id, item id, user, urgent, channel, reviewer, undo ms,
#       n counts, counts…, groups…
_RECORD = """
local holder = redis.call('GET', KEYS[6])
if holder and holder ~= ARGV[8] then return {'claimed', holder, ''} end
if not redis.call('SET', KEYS[1], ARGV[6] == '1' and 'urgent' or '1', 'NX', 'EX', ARGV[1]) then
  local undo = redis.call('GET', KEYS[7])
  return {'second', undo and cjson.decode(undo)['reviewer'] or '', ''}
end
redis.call('DEL', KEYS[6])
redis.call('ZREM', KEYS[8], ARGV[3])
local id = redis.call('XADD', KEYS[2], '*', 'alert_id', ARGV[4], 'user', ARGV[5], 'verdict', ARGV[2])
local n = tonumber(ARGV[10])
local counts = {}
for i = 1, n do
  redis.call('HINCRBY', KEYS[3], ARGV[10 + i], 1)
  counts[i] = ARGV[10 + i]
end
local urgent = ''
if ARGV[6] == '1' then
  urgent = redis.call('XADD', KEYS[5], 'MAXLEN', '~', '100000', '*', 'alert_id', ARGV[4], 'user', ARGV[5], 'verdict', ARGV[2])
  redis.call('PUBLISH', ARGV[7], ARGV[2])
end
for i = 11 + n, #ARGV do redis.pcall('XACK', KEYS[4], ARGV[i], ARGV[3]) end
if tonumber(ARGV[9]) > 0 then
  local undo = {reviewer = ARGV[8], verdict = id, urgent = urgent, counts = counts, entry = ARGV[3]}
  redis.call('SET', KEYS[7], cjson.encode(undo), 'PX', ARGV[9])
end
return {'recorded', ARGV[8], id}
"""

# KEYS: undo, decided, verdicts, counts, urgent stream, claim, returned; ARGV: reviewer, lease ms
_UNDO = """
local raw = redis.call('GET', KEYS[1])
if not raw then return {'late', '', ''} end
local r = cjson.decode(raw)
if r['reviewer'] ~= ARGV[1] then return {'not_yours', r['reviewer'], ''} end
redis.call('XDEL', KEYS[3], r['verdict'])
for _, c in ipairs(r['counts']) do
  if redis.call('HINCRBY', KEYS[4], c, -1) <= 0 then redis.call('HDEL', KEYS[4], c) end
end
if r['urgent'] ~= '' then redis.call('XDEL', KEYS[5], r['urgent']) end
redis.call('DEL', KEYS[1], KEYS[2])
redis.call('SET', KEYS[6], ARGV[1], 'PX', ARGV[2])
redis.call('ZADD', KEYS[7], 0, r['entry'])
return {'undone', ARGV[1], r['verdict']}
"""


@dataclass(frozen=True)
class Decision:
    """``recorded`` (as ``verdict_id``), or refused: ``claimed`` (``by`` holds it) or
    ``second`` (``by`` decided it first, when still known: within the undo window)."""

    status: Literal["recorded", "claimed", "second"]
    by: str = ""
    verdict_id: str | None = None


@dataclass(frozen=True)
class Undo:
    """``undone`` (``verdict_id`` deleted), ``late`` (the window closed: the verdict
    stands) or ``not_yours`` (``by`` gave that verdict: only they may take it back)."""

    status: Literal["undone", "late", "not_yours"]
    by: str = ""
    verdict_id: str | None = None


class Decisions:
    def __init__(self, store: Store) -> None:
        self._store, self.keys = store, store.keys
        self._record = store.redis.register_script(_RECORD)
        self._undo = store.redis.register_script(_UNDO)

    async def record(
        self, verdict: Verdict, entry_id: str, groups: Iterable[str], *, undo_s: float = 0.0
    ) -> Decision:
        """Record ``verdict`` on stream entry ``entry_id`` and acknowledge it in the team's
        ``groups``, or refuse it (above); with ``undo_s`` it can be undone that long."""
        k = self.keys
        counts = [
            f"{verdict.lane}|{p}|{verdict.model_version}|{verdict.verdict}"
            for p in verdict.policies or ["-"]
        ]
        source = k.stream if verdict.lane == "alerts" else k.review_lane
        item, team = verdict.alert_id, verdict.team
        keys = [k.decided(team, item), k.verdicts, k.verdict_counts, source, k.urgent]
        keys += [k.claim(team, item), k.undo(team, item), k.returned(team, verdict.lane)]
        args = [DECIDED_TTL_S, encode(verdict), entry_id, item, verdict.user_id or ""]
        args += ["1" if verdict.urgent else "0", f"{k.urgent}:live", verdict.reviewer]
        args += [max(0, round(undo_s * 1000)), len(counts), *counts, *groups]
        with self._store.errors(f"recording a verdict on {item}"):
            status, by, written = await self._record(keys=keys, args=args)
        return Decision(as_text(status), as_text(by), as_text(written) or None)  # type: ignore[arg-type]

    async def undo(
        self, team: str, lane: str, item_id: str, reviewer: str, *, lease_s: float
    ) -> Undo:
        """Take back ``reviewer``'s verdict on ``item_id`` while its window is open; the
        item is then undecided, back in ``team``'s queue of ``lane``, and claimed by
        ``reviewer`` for ``lease_s``."""
        k = self.keys
        keys = [k.undo(team, item_id), k.decided(team, item_id), k.verdicts, k.verdict_counts]
        keys += [k.urgent, k.claim(team, item_id), k.returned(team, lane)]
        with self._store.errors(f"undoing the verdict on {item_id}"):
            status, by, verdict_id = await self._undo(
                keys=keys, args=[reviewer, max(1, round(lease_s * 1000))]
            )
        return Undo(as_text(status), as_text(by), as_text(verdict_id) or None)  # type: ignore[arg-type]
