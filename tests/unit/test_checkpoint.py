"""Checkpoint against plain fake consumer/producer objects: what is committed, and when.

The fake producer keeps the real ``Producer``'s transaction rules (begin is a no-op while
a transaction is open; commit and abort are no-ops while none is), so the exactly-once
tests exercise the same sequence of calls a broker would see.
"""

from __future__ import annotations

import asyncio

from structlog.testing import capture_logs

from monitor.bus import Record, TopicPartition
from monitor.errors import BusError
from monitor.scoring.checkpoint import Checkpoint

A = TopicPartition("comments", 0)
B = TopicPartition("comments", 1)
Offsets = dict[TopicPartition, int]


class FakeConsumer:
    def __init__(self, *assigned: TopicPartition) -> None:
        self.assigned = set(assigned)
        self.commits: list[Offsets] = []
        self.failures: list[Exception] = []
        self.ends: Offsets = {}
        self.ends_error: Exception | None = None
        self.seeks: list[tuple[TopicPartition, int]] = []
        self.group_offsets: Offsets = {}

    def assignment(self) -> set[TopicPartition]:
        return set(self.assigned)

    async def commit(self, offsets: Offsets) -> None:
        if self.failures:
            raise self.failures.pop(0)
        self.commits.append(dict(offsets))

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self.seeks.append((tp, offset))

    async def committed(self, tp: TopicPartition) -> int | None:
        return self.group_offsets.get(tp)

    async def seek_to_committed_or_start(self, tp: TopicPartition) -> None:
        self.seeks.append((tp, self.group_offsets.get(tp, 0)))

    async def end_positions(self, tps: set[TopicPartition]) -> Offsets:
        if self.ends_error is not None:
            raise self.ends_error
        return {tp: self.ends[tp] for tp in tps if tp in self.ends}


class FakeProducer:
    def __init__(self) -> None:
        self.calls: list[tuple[object, ...]] = []
        self.in_transaction = False
        self.commit_failures: list[Exception] = []

    async def flush(self) -> None:
        self.calls.append(("flush",))

    async def begin_transaction(self) -> None:
        if not self.in_transaction:
            self.in_transaction = True
            self.calls.append(("begin",))

    async def commit_transaction(self, offsets: Offsets, group_id: str) -> None:
        if not self.in_transaction:
            return
        if self.commit_failures:
            raise self.commit_failures.pop(0)
        self.in_transaction = False
        self.calls.append(("commit", dict(offsets), group_id))

    async def abort_transaction(self) -> None:
        if self.in_transaction:
            self.in_transaction = False
            self.calls.append(("abort",))


def record(tp: TopicPartition, offset: int) -> Record:
    return Record(tp.topic, tp.partition, offset, None, b"{}", (), 0)


def checkpoint(
    consumer: FakeConsumer, producer: FakeProducer | None = None, *, exactly_once: bool = False
) -> Checkpoint:
    cp = Checkpoint(
        consumer,  # type: ignore[arg-type]
        producer or FakeProducer(),  # type: ignore[arg-type]
        group_id="scorer",
        interval_s=60,
        exactly_once=exactly_once,
    )
    cp.assign(consumer.assigned)
    return cp


def fetch(cp: Checkpoint, tp: TopicPartition, *offsets: int) -> int:
    """Start records as the intake does; returns the generation they were fetched under."""
    for offset in offsets:
        cp.started(record(tp, offset))
    return cp.generation(tp)


async def test_commit_covers_finished_contiguous_offsets_of_assigned_partitions() -> None:
    consumer = FakeConsumer(A)
    cp = checkpoint(consumer)
    g = fetch(cp, A, 0, 1, 2, 3)
    fetch(cp, B, 0, 1)  # B is not (or no longer) ours
    for offset in (0, 1, 3):
        cp.finished(A, offset, g)
    cp.finished(B, 0, 0)
    cp.finished(B, 1, 0)
    await cp.commit()
    assert consumer.commits == [{A: 2}]  # 2 is unfinished, so 3 waits
    assert cp.committed() == {A: 2}
    await cp.commit()
    assert consumer.commits == [{A: 2}]  # nothing moved: no second commit


async def test_a_record_of_an_earlier_generation_cannot_finish_the_new_one() -> None:
    consumer = FakeConsumer(A)
    cp = checkpoint(consumer)
    old = fetch(cp, A, 0, 1)
    cp.finished(A, 0, old)
    await cp.revoke({A}, wait_s=0)  # 1 is still being scored when the partition goes
    assert consumer.commits == [{A: 1}]
    cp.assign({A})  # back to us: the new generation reads again from 1
    new = fetch(cp, A, 1, 2)
    assert (old, new) == (1, 3)
    cp.finished(A, 1, old)  # the batch fetched before the revoke delivers late
    assert cp.pending(A) == 2
    await cp.commit()
    assert consumer.commits[-1] == {A: 1}
    cp.finished(A, 1, new)
    await cp.commit()
    assert consumer.commits[-1] == {A: 2}


async def test_commit_waits_for_a_unit_of_output_in_progress() -> None:
    consumer, producer = FakeConsumer(A), FakeProducer()
    cp = checkpoint(consumer, producer)
    g = fetch(cp, A, 0, 1)
    entered, release = asyncio.Event(), asyncio.Event()

    async def unit() -> None:
        async with cp.writing():
            entered.set()
            await release.wait()
            cp.finished(A, 0, g)
            cp.finished(A, 1, g)

    writer = asyncio.create_task(unit())
    await entered.wait()
    committing = asyncio.create_task(cp.commit())
    for _ in range(5):
        await asyncio.sleep(0)
    assert not committing.done()
    assert producer.calls == [] and consumer.commits == []
    release.set()
    await asyncio.gather(writer, committing)
    assert producer.calls == [("flush",)]
    assert consumer.commits == [{A: 2}]  # both records, finished inside the unit


async def test_a_failed_commit_is_logged_and_retried_at_the_next_commit() -> None:
    consumer = FakeConsumer(A)
    consumer.failures = [BusError("coordinator moved")]
    consumer.ends = {A: 10}
    cp = checkpoint(consumer)
    g = fetch(cp, A, 0, 1)
    cp.finished(A, 0, g)
    with capture_logs() as logs:
        await cp.commit()
    assert [(e["event"], e["error"]) for e in logs] == [("commit_failed", "coordinator moved")]
    assert consumer.commits == [] and cp.committed() == {} and cp.lag == {}
    await cp.commit()
    assert consumer.commits == [{A: 1}] and cp.committed() == {A: 1}


async def test_lag_is_the_end_minus_the_committed_position() -> None:
    consumer = FakeConsumer(A, B)
    consumer.ends = {A: 10, B: 4}
    cp = checkpoint(consumer)
    g = fetch(cp, A, 0, 1, 2)
    for offset in (0, 1, 2):
        cp.finished(A, offset, g)
    await cp.commit()
    assert cp.lag == {A: 7, B: 4}  # nothing committed on B yet: all of it is still to do
    consumer.ends_error = BusError("metadata unavailable")
    consumer.ends = {A: 99}
    await cp.commit()
    assert cp.lag == {A: 7, B: 4}  # a failed lookup keeps the last figure


async def test_exactly_once_commits_the_offsets_inside_the_transaction() -> None:
    consumer, producer = FakeConsumer(A), FakeProducer()
    cp = checkpoint(consumer, producer, exactly_once=True)
    g = fetch(cp, A, 0, 1)
    async with cp.writing():
        assert producer.calls == [("begin",)]  # open before the unit writes anything
        cp.finished(A, 0, g)
    async with cp.writing():
        cp.finished(A, 1, g)
    await cp.commit()
    assert producer.calls == [("begin",), ("flush",), ("commit", {A: 2}, "scorer")]
    assert consumer.commits == []  # offsets travel in the transaction, not on the side
    assert cp.committed() == {A: 2}


async def test_exactly_once_aborts_when_the_commit_fails() -> None:
    consumer, producer = FakeConsumer(A), FakeProducer()
    producer.commit_failures = [BusError("fenced")]
    cp = checkpoint(consumer, producer, exactly_once=True)
    g = fetch(cp, A, 0)
    async with cp.writing():
        cp.finished(A, 0, g)
    with capture_logs() as logs:
        await cp.commit()
    assert producer.calls == [("begin",), ("flush",), ("abort",)]
    assert [e["event"] for e in logs] == ["commit_failed", "transaction_aborted_rewound"]
    assert cp.committed() == {}
    assert consumer.seeks == [(A, 0)]  # fetched again from where the group stands


async def test_offsets_never_pass_a_record_whose_output_was_aborted() -> None:
    consumer, producer = FakeConsumer(A), FakeProducer()
    producer.commit_failures = [BusError("broker restarted")]
    cp = checkpoint(consumer, producer, exactly_once=True)
    g = fetch(cp, A, 0, 1)
    async with cp.writing():
        cp.finished(A, 0, g)  # record 0's alert is sent in this transaction …
    await cp.commit()  # … which is aborted: the alert is gone
    async with cp.writing():
        cp.finished(A, 1, g)
    await cp.commit()
    committed = [c[1][A] for c in producer.calls if c[0] == "commit" and A in c[1]]
    assert all(offset <= 0 for offset in committed), producer.calls
    assert not cp.current(A, g)  # work in flight from before the rewind is not delivered
