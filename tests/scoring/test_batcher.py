"""MicroBatcher: a batch is due when full or when its oldest item is old enough (fake clock)."""

from __future__ import annotations

import pytest

from monitor.bus import TopicPartition
from monitor.scoring.batcher import MicroBatcher

pytestmark = pytest.mark.unit  # the fast layer: no broker, Redis, Paddle or network

A = TopicPartition("comments", 0)
B = TopicPartition("comments", 1)


class Clock:
    def __init__(self) -> None:
        self.now = 50.0

    def __call__(self) -> float:
        return self.now


def test_due_when_full() -> None:
    clock = Clock()
    batcher: MicroBatcher[str] = MicroBatcher(3, 10.0, clock)
    batcher.add(A, 0, "a")
    batcher.add(A, 1, "b")
    assert not batcher.due()
    batcher.add(B, 0, "c")
    assert batcher.due() and len(batcher) == 3


def test_due_when_the_oldest_item_has_waited_max_wait() -> None:
    clock = Clock()
    batcher: MicroBatcher[str] = MicroBatcher(100, 0.5, clock)
    assert not batcher.due()  # empty is never due
    batcher.add(A, 0, "a")
    clock.now += 0.25
    batcher.add(A, 1, "b")
    clock.now += 0.125
    assert not batcher.due()  # the oldest is 0.375 s old
    clock.now += 0.125
    assert batcher.due()  # the oldest is exactly 0.5 s old (binary fractions: no rounding)


def test_wait_s_is_the_time_left_for_the_oldest_item() -> None:
    clock = Clock()
    batcher: MicroBatcher[str] = MicroBatcher(100, 0.5, clock)
    assert batcher.wait_s() == 0.5  # empty: a full wait
    batcher.add(A, 0, "a")
    clock.now += 0.2
    batcher.add(A, 1, "b")
    assert batcher.wait_s() == pytest.approx(0.3)
    clock.now += 2.0
    assert batcher.wait_s() == 0.0  # overdue: never negative


def test_take_returns_the_oldest_items_in_order_and_keeps_the_rest() -> None:
    clock = Clock()
    batcher: MicroBatcher[str] = MicroBatcher(2, 1.0, clock)
    for offset, item in enumerate("abcde"):
        batcher.add(A if offset % 2 else B, offset, item)
        clock.now += 0.1
    first = batcher.take()
    assert [(p.tp, p.offset, p.item) for p in first] == [(B, 0, "a"), (A, 1, "b")]
    assert [p.added for p in first] == pytest.approx([50.0, 50.1])
    assert [p.item for p in batcher.take()] == ["c", "d"]
    assert len(batcher) == 1
    clock.now = 50.4 + 0.9
    assert batcher.wait_s() == pytest.approx(0.1)  # the age of "e", added at 50.4
    assert [p.item for p in batcher.take()] == ["e"] and batcher.take() == []


def test_drop_removes_only_revoked_partitions_and_keeps_order() -> None:
    clock = Clock()
    batcher: MicroBatcher[str] = MicroBatcher(10, 1.0, clock)
    for offset, (tp, item) in enumerate([(A, "a"), (B, "b"), (A, "c"), (B, "d")]):
        batcher.add(tp, offset, item)
    assert batcher.drop({A}) == 2
    assert [(p.tp, p.item) for p in batcher.take()] == [(B, "b"), (B, "d")]
    assert batcher.drop({A, B}) == 0
