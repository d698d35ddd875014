"""Which input record owns the decision on a comment: the scorer's dedupe across offsets.

The poller can publish one comment twice (killed between the broker's ack and marking the
ids seen), so the same comment id arrives at two offsets. Each copy would be scored in its
own batch — under exactly-once in its own committed transaction — and alert readers would
get it twice. A mark on the comment id alone is not enough: a scorer that marked an id and
crashed before its outputs were committed would drop the comment when it read it again,
and the comment would be lost.

So the mark names its *owner*, the record (topic/partition/offset) that first claimed the
id, and the rule is **first position wins**:

- no mark: this record claims the id and emits its score and alert;
- a mark naming this very record: the owner read again — after a crash, an aborted
  transaction or a rebalance, since its offset was never committed; its earlier outputs
  were then aborted (exactly-once) or are repeats consumers drop (at least once): emit
  again. (The scorer emits a record at most once per assignment generation, so a second
  fetch within one never doubles a transaction: ``monitor.scoring.workers``.)
- a mark naming another record: a copy — drop it, with no output; its offset moves on.

Claiming before the outputs are durable is therefore safe: an owner's offset is committed
only with or after its outputs, and until then the owner is read again and still owns the
id. One Lua script claims a batch atomically, so two copies in one batch, or two scorers
racing, agree on one owner. Marks live ``redis.alert_dedupe_ttl_s`` (the alert dedupe's
window): about 180 bytes of Redis memory per comment scored in that window. Redis losing
marks (a restart without persistence) makes duplicates possible again, never losses.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from monitor.store.client import Store

__all__ = ["CommentPosition", "DecidedComments"]

# KEYS: one owner key per record; ARGV[1]: ttl seconds, ARGV[1 + i]: record i's position.
# Returns, per record, 1 when it owns the decision (claimed now or before), 0 when not.
_CLAIM = """
local owned = {}
for i, key in ipairs(KEYS) do
  local mine = ARGV[i + 1]
  local owner = redis.call('GET', key)
  if not owner then
    redis.call('SET', key, mine, 'EX', ARGV[1])
    owned[i] = 1
  elseif owner == mine then
    owned[i] = 1
  else
    owned[i] = 0
  end
end
return owned
"""


@dataclass(frozen=True, slots=True)
class CommentPosition:
    """One fetched record that carries a comment."""

    comment_id: str
    topic: str
    partition: int
    offset: int

    @property
    def position(self) -> str:
        return f"{self.topic}/{self.partition}/{self.offset}"


class DecidedComments:
    def __init__(self, store: Store) -> None:
        self._store = store
        self._keys = store.keys
        self._ttl_s = store.settings.alert_dedupe_ttl_s
        self._script = store.redis.register_script(_CLAIM)

    async def claim(self, claims: Sequence[CommentPosition]) -> list[bool]:
        """For each record, whether it owns its comment's decision (see the module docstring);
        safe to call again with the same records. StoreUnavailable while Redis is away."""
        if not claims:
            return []
        keys = [self._keys.comment_owner(c.comment_id) for c in claims]
        args: list[str | int] = [self._ttl_s, *(c.position for c in claims)]
        with self._store.errors(f"claiming {len(claims)} comment decision(s)"):
            owned = await self._script(keys=keys, args=args)
        return [bool(o) for o in owned]

    async def owner(self, comment_id: str) -> str | None:
        """The position that owns ``comment_id``'s decision (``topic/partition/offset``)."""
        with self._store.errors(f"reading the owner of comment {comment_id}"):
            value = await self._store.redis.get(self._keys.comment_owner(comment_id))
        return value.decode() if value is not None else None
