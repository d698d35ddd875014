"""Micro-batching: a batch is due when it is full or its oldest item has waited long enough."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from monitor.bus import TopicPartition

__all__ = ["MicroBatcher", "Pending"]

Item = TypeVar("Item")


@dataclass(slots=True)
class Pending(Generic[Item]):
    tp: TopicPartition
    offset: int
    item: Item
    added: float = field(default=0.0)


class MicroBatcher(Generic[Item]):
    def __init__(
        self, max_batch: int, max_wait_s: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.max_batch = max_batch
        self.max_wait_s = max_wait_s
        self._clock = clock
        self._items: list[Pending[Item]] = []

    def __len__(self) -> int:
        return len(self._items)

    def add(self, tp: TopicPartition, offset: int, item: Item) -> None:
        self._items.append(Pending(tp, offset, item, self._clock()))

    def due(self) -> bool:
        if not self._items:
            return False
        return (
            len(self._items) >= self.max_batch
            or self._clock() - self._items[0].added >= self.max_wait_s
        )

    def wait_s(self) -> float:
        """How long until the oldest item is due (the poll timeout to use); max_wait when empty."""
        if not self._items:
            return self.max_wait_s
        return max(0.0, self.max_wait_s - (self._clock() - self._items[0].added))

    def take(self) -> list[Pending[Item]]:
        batch, self._items = self._items[: self.max_batch], self._items[self.max_batch :]
        return batch

    def drop(self, tps: Iterable[TopicPartition]) -> int:
        """Forget items of revoked partitions; their new owner reads them again."""
        gone = set(tps)
        before = len(self._items)
        self._items = [p for p in self._items if p.tp not in gone]
        return before - len(self._items)
