"""The pipeline on Apache Kafka: poller → scorer → alerts with the idempotent producer on,
consumer lag from end_offsets, and replay by time through offsets_for_times."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

from monitor.bus import Consumer, TopicPartition
from monitor.embedded.apache_kafka import KafkaCluster
from monitor.schemas import Alert, Comment, decode
from monitor.scoring.replay import Replayer
from monitor.scoring.service import ScorerService
from monitor.settings import Settings
from monitor.sources.service import PollerService
from tests.fixtures import (
    TEXTS,
    copy_home,
    expected_alerts,
    make_comment,
    produce_comments,
    read_topic,
    redis_alerts,
    scorer_settings,
    wait_for,
)


async def test_file_to_alerts_with_the_idempotent_producer(
    kafka_stack: Settings, tiny_home: Path, tmp_path: Path
) -> None:
    settings = scorer_settings(kafka_stack, copy_home(tiny_home, tmp_path))
    assert settings.kafka.enable_idempotence and not settings.kafka.lag_from_highwater
    comments = [make_comment(i, TEXTS[i % len(TEXTS)]) for i in range(300)]
    expected = expected_alerts(settings, comments)
    assert 0 < len(expected) < 300
    stream = tmp_path / "stream.jsonl"
    stream.write_text("\n".join(c.model_dump_json() for c in comments), encoding="utf-8")

    service = ScorerService(settings)
    stop = asyncio.Event()
    task = asyncio.create_task(service.run(stop))
    counts = await PollerService(settings).replay(stream, speed=0, stop=stop, progress=False)
    assert counts == {"read": 300, "published": 300, "bad": 0}
    await wait_for(lambda: service.stats.scored >= 300 or task.done(), timeout_s=90)
    await asyncio.sleep(0.5)  # a commit interval
    stop.set()
    await task

    in_redis = await redis_alerts(settings)
    assert sorted(a.comment_id for a in in_redis) == sorted(expected)
    in_kafka = [
        decode(Alert, r.value)
        for r in await read_topic(settings.kafka, settings.kafka.alerts_topic)
    ]
    assert sorted(a.comment_id for a in in_kafka) == sorted(expected)  # once each

    # lag from end_offsets (exact on Apache Kafka): everything produced was committed
    async with Consumer(settings.kafka, group_id=settings.kafka.consumer_group) as consumer:
        tps = await consumer.partitions(settings.kafka.comments_topic)
        ends = await consumer.end_positions(tps)
        committed = {tp: await consumer.committed(tp) for tp in tps}
    assert sum(ends.values()) == 300
    assert all(committed[tp] == end for tp, end in ends.items() if end)  # empty ones: never
    assert service.stats.lag == {f"{tp.topic}[{tp.partition}]": 0 for tp in tps}


async def test_lag_counts_what_is_not_committed_yet(kafka_stack: Settings) -> None:
    settings = kafka_stack
    await produce_comments(settings.kafka, [make_comment(i, TEXTS[i % 40]) for i in range(50)])
    async with Consumer(settings.kafka, group_id=settings.kafka.consumer_group) as consumer:
        tps = await consumer.partitions(settings.kafka.comments_topic)
        consumer.assign(tps)
        ends = await consumer.end_positions(tps)
        await consumer.commit({tp: min(end, 10) for tp, end in ends.items()})
        committed = {tp: await consumer.committed(tp) for tp in tps}
    assert sum(ends.values()) == 50
    assert sum(ends[tp] - committed[tp] for tp in tps) == 50 - sum(
        min(e, 10) for e in ends.values()
    )


async def test_replay_by_time_starts_at_the_first_record_after_it(
    kafka_stack: Settings, tiny_home: Path, tmp_path: Path
) -> None:
    settings = scorer_settings(kafka_stack, copy_home(tiny_home, tmp_path))
    before = [make_comment(i, TEXTS[i % 40]) for i in range(40)]
    after = [make_comment(100 + i, TEXTS[i % 40]) for i in range(25)]
    await produce_comments(settings.kafka, before)
    await asyncio.sleep(1.2)
    since = datetime.now(UTC)
    await asyncio.sleep(0.2)
    await produce_comments(settings.kafka, after)

    async with Consumer(settings.kafka, group_id=None) as consumer:
        tps = await consumer.partitions(settings.kafka.comments_topic)
        found = await consumer.offsets_for_times({tp: int(since.timestamp() * 1000) for tp in tps})
    records = await read_topic(settings.kafka, settings.kafka.comments_topic)
    first_after = {
        TopicPartition(r.topic, r.partition): r.offset
        for r in reversed(records)
        if int(decode(Comment, r.value).comment_id[1:]) >= 100
    }
    assert found == {tp: first_after.get(tp) for tp in tps}  # record-exact, not batch-granular

    report = await Replayer(settings).run(settings.kafka.comments_topic, since, None, "current")
    assert report.records == report.scored == 25
    for name, (first, _last) in report.partitions.items():
        partition = int(name.rsplit("[", 1)[1].rstrip("]"))
        assert first == found[TopicPartition(settings.kafka.comments_topic, partition)]


def test_the_session_broker_is_apache_kafka_in_kraft_mode(kafka_node: KafkaCluster) -> None:
    node = kafka_node.nodes[0]
    assert "Kafka Server started" in node.log.read_text()
    assert "process.roles=broker,controller" in node.config.read_text()
    assert len(kafka_node.cluster_id) == 22
