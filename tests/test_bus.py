"""Round trips through the real embedded broker and Redis."""

import asyncio

from monitor.bus import Consumer, Producer, TopicPartition
from monitor.settings import Settings
from monitor.store import connect as connect_redis


async def _drain(consumer: Consumer, want: int, timeout_s: float = 20.0) -> list:
    got = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while len(got) < want and loop.time() < deadline:
        for records in (await consumer.getmany(timeout_ms=200)).values():
            got.extend(records)
    return got


async def test_group_round_trip_with_manual_commit(stack: Settings) -> None:
    kafka = stack.kafka
    async with Producer(kafka) as producer:
        for i in range(10):
            await producer.send_and_wait(
                kafka.comments_topic,
                f"m{i}".encode(),
                key=f"post{i % 3}".encode(),
                headers=[("h", b"1")],
            )

    async with Consumer(
        kafka, group_id=kafka.consumer_group, topics=[kafka.comments_topic]
    ) as consumer:
        first = await _drain(consumer, 10)
        assert sorted(r.value for r in first) == sorted(f"m{i}".encode() for i in range(10))
        assert all(r.headers == (("h", b"1"),) for r in first)
        # commit only the first half of each partition
        commit: dict[TopicPartition, int] = {}
        for r in first:
            commit.setdefault(r.tp, r.offset + 1)
        await consumer.commit(commit)

    async with Consumer(
        kafka, group_id=kafka.consumer_group, topics=[kafka.comments_topic]
    ) as consumer:
        again = await _drain(consumer, 10 - len(commit))
        first_per_tp = {tp: o - 1 for tp, o in commit.items()}
        expected = {(r.tp, r.offset) for r in first if r.offset > first_per_tp[r.tp]}
        assert {(r.tp, r.offset) for r in again} == expected
        for tp, offset in commit.items():
            assert await consumer.committed(tp) == offset


async def test_redis_stream_round_trip(stack: Settings) -> None:
    redis = connect_redis(stack.redis)
    try:
        stream = f"{stack.redis.key_prefix}stream"
        await redis.xgroup_create(stream, "care", id="0", mkstream=True)
        ids = [await redis.xadd(stream, {"alert": f"a{i}"}, maxlen=1000) for i in range(3)]
        read = await redis.xreadgroup("care", "worker-1", {stream: ">"}, count=10)
        entries = read[0][1]
        assert [e[0] for e in entries] == ids
        assert [e[1][b"alert"] for e in entries] == [b"a0", b"a1", b"a2"]
        assert await redis.xack(stream, "care", *ids) == 3
    finally:
        await redis.aclose()
