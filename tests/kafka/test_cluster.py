"""A three-node Apache Kafka cluster: topics replicated three ways with min.insync.replicas=2,
and a broker killed mid-stream (SIGKILL, then restarted) loses no comment and no alert."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from monitor.bus import ensure_topics
from monitor.bus.admin import topics_for
from monitor.bus.connection import connection_options
from monitor.embedded.apache_kafka import KafkaCluster
from monitor.scoring.service import ScorerService
from monitor.settings import Settings
from tests.fixtures import (
    TEXTS,
    copy_home,
    expected_alerts,
    make_comment,
    produce_comments,
    redis_alerts,
    scorer_settings,
    wait_for,
)
from tests.kafka.conftest import on_kafka, require_kafka


@pytest.fixture(scope="module")
def trio() -> Iterator[KafkaCluster]:
    require_kafka()
    with KafkaCluster(3) as cluster:
        yield cluster


async def _replicas_and_isr(settings: Settings) -> tuple[set[int], str]:
    admin = AIOKafkaAdminClient(**connection_options(settings.kafka))
    await admin.start()
    try:
        described = await admin.describe_topics([settings.kafka.comments_topic])
        replicas = {len(p["replicas"]) for p in described[0]["partitions"]}
        configs = await admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, settings.kafka.comments_topic)]
        )
        entries = {e[0]: e[1] for e in configs[0].resources[0][4]}
        return replicas, entries["min.insync.replicas"]
    finally:
        await admin.close()


def test_topics_are_replicated_three_ways_with_two_in_sync(
    services: Settings, trio: KafkaCluster
) -> None:
    settings = on_kafka(
        services, trio.bootstrap_servers, replication_factor=3, min_insync_replicas=2
    )
    asyncio.run(ensure_topics(settings.kafka, topics_for(settings.kafka)))
    replicas, min_isr = asyncio.run(_replicas_and_isr(settings))
    assert replicas == {3} and min_isr == "2"


async def test_a_broker_killed_mid_stream_loses_nothing(
    services: Settings, trio: KafkaCluster, tiny_home: Path, tmp_path: Path
) -> None:
    base = on_kafka(services, trio.bootstrap_servers, replication_factor=3, min_insync_replicas=2)
    settings = scorer_settings(base, copy_home(tiny_home, tmp_path))
    await ensure_topics(settings.kafka, topics_for(settings.kafka))
    comments = [make_comment(i, TEXTS[i % len(TEXTS)]) for i in range(400)]
    expected = expected_alerts(settings, comments)
    service = ScorerService(settings)
    stop = asyncio.Event()
    task = asyncio.create_task(service.run(stop))
    await produce_comments(settings.kafka, comments[:200])
    await wait_for(lambda: service.stats.scored >= 100 or task.done(), timeout_s=90)
    await asyncio.to_thread(trio.kill_node, 1)  # SIGKILL, mid-stream
    # acks=all with min.insync.replicas=2: two brokers left still accept every write
    await asyncio.wait_for(produce_comments(settings.kafka, comments[200:]), 120)
    await asyncio.to_thread(trio.restart_node, 1)
    await wait_for(lambda: service.stats.scored >= 400 or task.done(), timeout_s=120)
    await asyncio.sleep(0.5)
    stop.set()
    await task
    in_redis = await redis_alerts(settings)
    assert sorted(a.comment_id for a in in_redis) == sorted(expected)
    assert service.stats.scored >= 400 and service.stats.dead_letters == 0
