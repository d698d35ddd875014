"""Claims: one reviewer of a team at a time on an alert (or a sampled comment).

A team's reviewers share one queue, so without claims two of them open the same alert and
the second verdict is thrown away. A claim is the key ``claim:<team>:<item id>`` holding
the reviewer's name, taken with SET NX PX when the reviewer opens the item: the PX is the
lease. It ends when the verdict is recorded (the verdict script deletes it), when the
reviewer moves on (``release``), or when the lease runs out: a closed tab or a console
process that died hands the item back by itself after one lease, with no sweeper to run.
Taking it again renews it, which is how an open page keeps it. The queue hides what a
teammate holds (``ReviewQueue(reviewer=…)``) and the verdict script refuses a verdict on
an item a teammate holds, so both halves hold even when two requests race.

The queue itself needs no ``alerts.reclaim`` (XAUTOCLAIM): every console process reads a
team's group as the one consumer ``console``, so entries a dead process had delivered are
still in the pending list every other process serves. What a dead process strands is its
reviewers' claims, and their leases run out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from monitor.store.client import Store, as_text

__all__ = ["ReviewClaim", "ReviewClaims"]

# KEYS: claim, decided; ARGV: reviewer, lease ms
_TAKE = """
if redis.call('EXISTS', KEYS[2]) == 1 then return {'decided', '', 0} end
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return {'yours', ARGV[1], tonumber(ARGV[2])}
end
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return {'yours', holder, tonumber(ARGV[2])}
end
return {'held', holder, redis.call('PTTL', KEYS[1])}
"""

# KEYS: claim; ARGV: reviewer. Only the holder's own claim goes: a lease that ran out and
# was taken by a teammate meanwhile stays theirs.
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


@dataclass(frozen=True)
class ReviewClaim:
    """The answer to opening an item: ``yours`` (held for ``ms_left``), ``held`` by a
    teammate (``holder``, for ``ms_left`` more unless renewed) or already ``decided``."""

    status: Literal["yours", "held", "decided"]
    holder: str
    ms_left: int

    @property
    def yours(self) -> bool:
        return self.status == "yours"

    @property
    def seconds_left(self) -> int:
        return max(0, round(self.ms_left / 1000))


class ReviewClaims:
    def __init__(self, store: Store, *, lease_s: float) -> None:
        self._store, self.keys = store, store.keys
        self.lease_ms = max(1, round(lease_s * 1000))
        self._take = store.redis.register_script(_TAKE)
        self._release = store.redis.register_script(_RELEASE)

    async def take(self, team: str, item_id: str, reviewer: str) -> ReviewClaim:
        """Claim ``item_id`` for ``reviewer`` for one lease, or renew their claim; a
        teammate's claim or the team's verdict is left alone and reported."""
        keys = [self.keys.claim(team, item_id), self.keys.decided(team, item_id)]
        with self._store.errors(f"claiming {item_id} for {reviewer}"):
            status, holder, ms_left = await self._take(keys=keys, args=[reviewer, self.lease_ms])
        return ReviewClaim(as_text(status), as_text(holder), int(ms_left))  # type: ignore[arg-type]

    async def release(self, team: str, item_id: str, reviewer: str) -> bool:
        """Give ``item_id`` back to the team now; False when ``reviewer`` did not hold it."""
        with self._store.errors(f"releasing {item_id} for {reviewer}"):
            return bool(await self._release(keys=[self.keys.claim(team, item_id)], args=[reviewer]))
