"""Which offsets may be committed: per partition, everything below the oldest unfinished record.

Records finish out of order (dead letters go at once, batches take longer), so the commit
point is the lowest offset still pending, or one past the highest seen when none is.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable

from monitor.bus import TopicPartition

__all__ = ["OffsetTracker"]


class _Partition:
    __slots__ = ("done", "heap", "next_offset")

    def __init__(self) -> None:
        self.heap: list[int] = []  # pending offsets (lazy deletion via ``done``)
        self.done: set[int] = set()
        self.next_offset: int | None = None


class OffsetTracker:
    def __init__(self) -> None:
        self._parts: dict[TopicPartition, _Partition] = {}
        self._committed: dict[TopicPartition, int] = {}

    def started(self, tp: TopicPartition, offset: int) -> None:
        part = self._parts.setdefault(tp, _Partition())
        heapq.heappush(part.heap, offset)
        part.next_offset = max(part.next_offset or 0, offset + 1)

    def finished(self, tp: TopicPartition, offset: int) -> None:
        part = self._parts.get(tp)
        if part is not None:  # None: the partition was revoked meanwhile
            part.done.add(offset)

    def pending(self, tp: TopicPartition) -> int:
        part = self._parts.get(tp)
        return len(part.heap) - len(part.done) if part else 0

    def committable(self) -> dict[TopicPartition, int]:
        """Next offsets to commit that moved since the last ``mark_committed``."""
        out = {}
        for tp, part in self._parts.items():
            while part.heap and part.heap[0] in part.done:
                part.done.discard(heapq.heappop(part.heap))
            position = part.heap[0] if part.heap else part.next_offset
            if position is not None and position != self._committed.get(tp):
                out[tp] = position
        return out

    def committed(self, tp: TopicPartition) -> int | None:
        return self._committed.get(tp)

    def mark_committed(self, offsets: dict[TopicPartition, int]) -> None:
        self._committed.update(offsets)

    def drop(self, tps: Iterable[TopicPartition]) -> None:
        for tp in tps:
            self._parts.pop(tp, None)
            self._committed.pop(tp, None)
