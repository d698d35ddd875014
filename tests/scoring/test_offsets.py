"""OffsetTracker: the commit point is the oldest unfinished offset, whatever order records finish in."""

from __future__ import annotations

import pytest

from monitor.bus import TopicPartition
from monitor.scoring.offsets import OffsetTracker

pytestmark = pytest.mark.unit  # the fast layer: no broker, Redis, Paddle or network

A = TopicPartition("comments", 0)
B = TopicPartition("comments", 1)


def tracker(tp: TopicPartition, offsets: list[int]) -> OffsetTracker:
    offsets_ = OffsetTracker()
    for offset in offsets:
        offsets_.started(tp, offset)
    return offsets_


def test_the_commit_point_waits_for_the_oldest_unfinished_record() -> None:
    t = tracker(A, [0, 1, 2, 3, 4])
    t.finished(A, 2)
    t.finished(A, 3)
    assert t.committable() == {A: 0}  # 2 and 3 are done, but 0 is not
    t.finished(A, 0)
    assert t.committable() == {A: 1}
    t.finished(A, 1)
    assert t.committable() == {A: 4}  # jumps over 2 and 3, finished earlier
    t.finished(A, 4)
    assert t.committable() == {A: 5}  # one past the last: everything is done
    assert t.pending(A) == 0


def test_gaps_between_offsets_do_not_hold_the_commit_point() -> None:
    t = tracker(A, [10, 12, 15])  # 11, 13, 14: compacted away or transaction markers
    t.finished(A, 10)
    t.finished(A, 15)
    assert t.committable() == {A: 12}
    t.finished(A, 12)
    assert t.committable() == {A: 16}


def test_committable_only_reports_partitions_that_moved() -> None:
    t = tracker(A, [0, 1])
    t.started(B, 7)
    t.finished(A, 0)
    assert t.committable() == {A: 1, B: 7}
    t.mark_committed({A: 1, B: 7})
    assert t.committable() == {}
    assert t.committed(A) == 1
    t.finished(A, 1)
    assert t.committable() == {A: 2}  # B has not moved
    t.mark_committed({A: 2})
    t.started(A, 2)
    assert t.committable() == {}  # a new record does not move the commit point
    t.finished(A, 2)
    assert t.committable() == {A: 3}


def test_pending_counts_started_minus_finished() -> None:
    t = tracker(A, [0, 1, 2])
    t.finished(A, 1)
    assert (t.pending(A), t.pending(B)) == (2, 0)


def test_drop_forgets_revoked_partitions_only() -> None:
    t = tracker(A, [0, 1])
    t.started(B, 5)
    t.finished(A, 0)
    t.finished(B, 5)
    t.mark_committed({A: 1, B: 6})
    t.drop([A])
    t.finished(A, 1)  # a late finish for a revoked partition is ignored, not an error
    assert t.committed(A) is None and t.pending(A) == 0
    assert t.committed(B) == 6
    assert t.committable() == {}
    t.started(A, 1)  # assigned again: tracked from scratch
    assert t.committable() == {A: 1}
