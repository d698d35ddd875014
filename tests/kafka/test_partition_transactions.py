"""Exactly once with one transaction per input partition (``monitor.bus.transactions``):
the checkpoint and the Kafka sink against fake clients, no broker needed. The zombie test
on Apache Kafka is ``test_zombie_scorer.py``.
"""

from __future__ import annotations

import pytest
from structlog.testing import capture_logs

from monitor.bus import Fenced, PartitionProducers, TopicPartition
from monitor.errors import BusError
from monitor.schemas import Alert, Score, utcnow
from monitor.scoring.checkpoint import Checkpoint
from monitor.settings import KafkaSettings
from monitor.sinks import KafkaSink
from tests.kafka.fakes import FakeConsumer, FakeProducer, fetch, write

A = TopicPartition("comments", 0)
B = TopicPartition("comments", 1)
KAFKA = KafkaSettings(bootstrap_servers="127.0.0.1:9092", transactional_id="lovelorn-t")


class Transactional:
    """Exactly once: ``PartitionProducers`` making fake producers, one per transactional id
    (a restarted id gets a new producer, as a new process would)."""

    def __init__(self, consumer: FakeConsumer, start_error: Exception | None = None) -> None:
        self.consumer = consumer
        self.start_error = start_error
        self.made: list[FakeProducer] = []
        self.producers = PartitionProducers(KAFKA, group_id="scorer", make=self._make)  # type: ignore[arg-type]
        self.cp = Checkpoint(
            consumer,  # type: ignore[arg-type]
            transactions=self.producers,
            group_id="scorer",
            interval_s=60,
        )

    def _make(self, txn_id: str) -> FakeProducer:
        self.made.append(FakeProducer(txn_id, self.consumer.events))
        self.made[-1].start_error = self.start_error
        return self.made[-1]

    def of(self, tp: TopicPartition) -> FakeProducer:
        producer = self.cp.producer_of(tp)
        assert producer is not None, tp
        return producer  # type: ignore[return-value]


async def test_assignment_fences_earlier_holders_before_reading_the_committed_offsets() -> None:
    consumer = FakeConsumer(A, B)
    t = Transactional(consumer)
    stale = fetch(t.cp, A, 0)  # returned by a fetch racing the assignment
    await t.cp.assign({A, B})
    kinds = [e[0] for e in consumer.events]
    assert kinds == ["pause", "start", "start", "seek", "seek", "resume"]
    assert consumer.events[0] == ("pause", A, B) and consumer.events[-1] == ("resume", A, B)
    assert sorted(e[1] for e in consumer.events if e[0] == "start") == [
        "lovelorn-t-scorer-comments-0",
        "lovelorn-t-scorer-comments-1",
    ]
    assert not t.cp.current(A, stale) and t.cp.pending(A) == 0  # read again after the seek
    assert t.cp.held == set()


async def test_partitions_stay_held_while_their_producers_cannot_open() -> None:
    consumer = FakeConsumer(A)
    t = Transactional(consumer, start_error=BusError("transaction coordinator not available"))
    with pytest.raises(BusError):
        await t.cp.assign({A})
    assert t.cp.held == {A} and consumer.paused == {A} and t.cp.producer_of(A) is None


async def test_each_partition_commits_its_own_output_and_offsets() -> None:
    consumer = FakeConsumer(A, B)
    t = Transactional(consumer)
    await t.cp.assign({A, B})
    ga, gb = fetch(t.cp, A, 0, 1), fetch(t.cp, B, 0)
    await write(t.cp, A, ga, 0)
    await write(t.cp, B, gb, 0)
    await write(t.cp, A, ga, 1)
    await t.cp.commit()
    assert t.of(A).calls == [
        ("begin",),
        ("send", "alerts", b"0-0"),
        ("send", "alerts", b"0-1"),
        ("flush",),
        ("commit", {A: 2}, "scorer"),
    ]
    assert t.of(B).calls[-1] == ("commit", {B: 1}, "scorer")
    assert ("send", "alerts", b"0-0") not in t.of(B).calls
    assert consumer.commits == []  # offsets travel in the transactions, not on the side
    assert t.cp.committed() == {A: 2, B: 1}
    await t.cp.commit()
    assert t.of(A).calls[-1] == ("commit", {A: 2}, "scorer")  # nothing new: no transaction


async def test_a_failed_commit_aborts_and_rewinds_only_that_partition() -> None:
    consumer = FakeConsumer(A, B)
    consumer.group_offsets = {A: 0}
    t = Transactional(consumer)
    await t.cp.assign({A, B})
    consumer.seeks.clear()
    t.of(A).commit_failures = [BusError("broker restarted")]
    ga, gb = fetch(t.cp, A, 0, 1), fetch(t.cp, B, 0)
    await write(t.cp, A, ga, 0)  # record 0's alert is sent in A's transaction …
    await write(t.cp, B, gb, 0)
    with capture_logs() as logs:
        await t.cp.commit()  # … which is aborted: the alert is gone
    assert [e["event"] for e in logs] == ["commit_failed", "transaction_aborted_rewound"]
    assert t.of(A).calls[-1] == ("abort",)
    assert consumer.seeks == [(A, 0)]  # fetched again from where the group stands
    assert not t.cp.current(A, ga)  # work in flight from before the rewind is not delivered
    assert t.cp.producer_for("c0-1") is None  # nor routed
    assert t.cp.committed() == {B: 1}
    await write(t.cp, A, ga, 1)  # late: ignored
    await t.cp.commit()
    committed = [c[1][A] for c in t.of(A).calls if c[0] == "commit"]
    assert committed == [], t.of(A).calls  # offsets never pass a record whose output was aborted


async def test_a_fenced_partition_is_lost_until_the_group_assigns_it_again() -> None:
    consumer = FakeConsumer(A, B)
    t = Transactional(consumer)
    await t.cp.assign({A, B})
    zombie = t.of(A)
    ga, gb = fetch(t.cp, A, 0, 1), fetch(t.cp, B, 0)
    await write(t.cp, A, ga, 0)
    await write(t.cp, B, gb, 0)
    zombie.fenced = True  # a new owner started a producer with A's transactional id
    with capture_logs() as logs:
        await t.cp.commit()
    assert [e["event"] for e in logs] == ["partition_lost"]
    assert not any(c[0] == "commit" for c in zombie.calls)  # its output never commits
    assert zombie.stopped and t.cp.lost == {A} and consumer.paused == {A}
    assert consumer.rejoins == 1  # only a new assignment may open A's producer again
    assert t.cp.producer_of(A) is None and not t.cp.current(A, ga)
    assert t.cp.committed() == {B: 1}  # the other partition is unaffected
    await write(t.cp, A, ga, 1)  # a batch in flight: dropped, not routed anywhere
    await t.cp.commit()
    assert len(t.made) == 2  # never re-created by the holder itself
    await t.cp.revoke({A, B}, wait_s=0)  # the rebalance it asked for
    assert t.cp.lost == set()
    await t.cp.assign({A})
    assert len(t.made) == 3 and t.cp.producer_of(A) is t.made[-1]


async def test_a_commit_that_finds_the_producer_fenced_loses_the_partition() -> None:
    consumer = FakeConsumer(A)
    t = Transactional(consumer)
    await t.cp.assign({A})
    t.of(A).commit_failures = [Fenced("InvalidProducerEpoch")]
    g = fetch(t.cp, A, 0)
    await write(t.cp, A, g, 0)
    await t.cp.commit()
    assert t.cp.lost == {A} and t.cp.committed() == {}


async def test_revoke_commits_then_closes_the_partitions_producers() -> None:
    consumer = FakeConsumer(A, B)
    t = Transactional(consumer)
    await t.cp.assign({A, B})
    a = t.of(A)
    g = fetch(t.cp, A, 0)
    await write(t.cp, A, g, 0)
    await t.cp.revoke({A}, wait_s=0)
    assert a.calls[-1] == ("commit", {A: 1}, "scorer") and a.stopped
    assert t.cp.producer_of(A) is None and t.cp.producer_of(B) is not None


async def test_the_kafka_sink_writes_each_comment_in_its_partitions_transaction() -> None:
    consumer = FakeConsumer(A, B)
    t = Transactional(consumer)
    await t.cp.assign({A, B})
    fetch(t.cp, A, 0)
    fetch(t.cp, B, 0)
    sink = KafkaSink(KAFKA, emit_scores=True, route=t.cp.producer_for)
    now = utcnow()
    alert = Alert(
        alert_id="x", comment_id="c0-0", post_id="p", score=0.9, threshold=0.5,
        model_version="v1", created_at=now, fetched_at=now,
    )  # fmt: skip
    scores = [
        Score(comment_id=c, post_id="p", score=0.9, model_version="v1", fetched_at=now)
        for c in ("c0-0", "c1-0")
    ]
    a, b = t.of(A), t.of(B)
    b.fenced = True  # B's new owner writes B's records
    await sink.write([alert], scores)
    assert [c[1] for c in a.calls if c[0] == "send"] == [KAFKA.alerts_topic, KAFKA.scores_topic]
    assert not [c for c in b.calls if c[0] == "send"]
