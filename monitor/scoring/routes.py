"""Which input partition a comment in flight was read from (exactly-once only).

With exactly-once, a record's output (its alert, its score) must join the transaction of
the partition it was read from, the one that commits its offset (see
``monitor.bus.transactions``). The sinks are handed alerts and scores, not records, so the
intake notes comment id → partition when it accepts a record, and the checkpoint forgets
the note when the record is finished or its partition is revoked, rewound or lost: the
table only ever holds records in flight.
"""

from __future__ import annotations

from collections.abc import Iterable

from monitor.bus import TopicPartition

__all__ = ["Routes"]


class Routes:
    def __init__(self) -> None:
        self._by_offset: dict[TopicPartition, dict[int, str]] = {}
        # usually one entry; a comment published twice may be in flight twice
        self._where: dict[str, list[tuple[TopicPartition, int]]] = {}

    def __len__(self) -> int:
        return sum(len(offsets) for offsets in self._by_offset.values())

    def add(self, comment_id: str, tp: TopicPartition, offset: int) -> None:
        self._by_offset.setdefault(tp, {})[offset] = comment_id
        self._where.setdefault(comment_id, []).append((tp, offset))

    def get(self, comment_id: str) -> TopicPartition | None:
        """The partition of the comment's latest fetch still in flight, if any."""
        entries = self._where.get(comment_id)
        return entries[-1][0] if entries else None

    def done(self, tp: TopicPartition, offset: int) -> None:
        comment_id = self._by_offset.get(tp, {}).pop(offset, None)
        if comment_id is not None:
            self._forget(comment_id, tp, offset)

    def drop(self, tps: Iterable[TopicPartition]) -> None:
        for tp in tps:
            for offset, comment_id in self._by_offset.pop(tp, {}).items():
                self._forget(comment_id, tp, offset)

    def _forget(self, comment_id: str, tp: TopicPartition, offset: int) -> None:
        entries = self._where.get(comment_id, [])
        if (tp, offset) in entries:
            entries.remove((tp, offset))
        if not entries:
            self._where.pop(comment_id, None)
