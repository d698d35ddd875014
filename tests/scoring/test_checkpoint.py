"""Checkpoint against fake consumer/producer objects (``tests/kafka/fakes.py``), at least
once: what is committed, and when. Exactly once, with a transaction per input partition:
``tests/kafka/test_partition_transactions.py``.
"""

from __future__ import annotations

import asyncio

import pytest
from structlog.testing import capture_logs

from monitor.bus import TopicPartition
from monitor.errors import BusError
from monitor.scoring.checkpoint import Checkpoint
from monitor.scoring.routes import Routes
from tests.kafka.fakes import FakeConsumer, FakeProducer, fetch

pytestmark = pytest.mark.unit  # the fast layer: no broker, Redis, Paddle or network

A = TopicPartition("comments", 0)
B = TopicPartition("comments", 1)


async def make_checkpoint(
    consumer: FakeConsumer, producer: FakeProducer | None = None
) -> Checkpoint:
    """At least once, with one shared producer."""
    cp = Checkpoint(
        consumer,  # type: ignore[arg-type]
        producer or FakeProducer(),  # type: ignore[arg-type]
        group_id="scorer",
        interval_s=60,
    )
    await cp.assign(consumer.assigned)
    return cp


async def test_commit_covers_finished_contiguous_offsets_of_assigned_partitions() -> None:
    consumer = FakeConsumer(A)
    cp = await make_checkpoint(consumer)
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
    cp = await make_checkpoint(consumer)
    old = fetch(cp, A, 0, 1)
    cp.finished(A, 0, old)
    await cp.revoke({A}, wait_s=0)  # 1 is still being scored when the partition goes
    assert consumer.commits == [{A: 1}]
    await cp.assign({A})  # back to us: the new generation reads again from 1
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
    cp = await make_checkpoint(consumer, producer)
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
    cp = await make_checkpoint(consumer)
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
    cp = await make_checkpoint(consumer)
    g = fetch(cp, A, 0, 1, 2)
    for offset in (0, 1, 2):
        cp.finished(A, offset, g)
    await cp.commit()
    assert cp.lag == {A: 7, B: 4}  # nothing committed on B yet: all of it is still to do
    consumer.ends_error = BusError("metadata unavailable")
    consumer.ends = {A: 99}
    await cp.commit()
    assert cp.lag == {A: 7, B: 4}  # a failed lookup keeps the last figure


async def test_at_least_once_routes_every_comment_to_the_shared_producer() -> None:
    producer = FakeProducer()
    cp = await make_checkpoint(FakeConsumer(A), producer)
    assert cp.producer_for("never-seen") is producer and cp.producer_of(B) is producer


def test_routes_hold_only_records_in_flight() -> None:
    routes = Routes()
    routes.add("c1", A, 5)
    routes.add("c1", B, 9)  # published twice, in flight twice
    assert routes.get("c1") == B
    routes.drop({B})
    assert routes.get("c1") == A
    routes.done(A, 5)
    assert routes.get("c1") is None and len(routes) == 0


def test_one_of_a_producer_or_transactions() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        Checkpoint(FakeConsumer(), group_id="g", interval_s=1)  # type: ignore[arg-type]
