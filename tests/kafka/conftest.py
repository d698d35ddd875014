"""The real-Kafka tier: Apache Kafka's own broker (KRaft) from Maven-fetched jars.

Skipped, with the reason in the test summary, on a machine without Java 17 or Maven;
`.ci/run` installs both, so CI always runs it.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator

import pytest

from monitor.bus import ensure_topics
from monitor.bus.admin import topics_for
from monitor.embedded.apache_kafka import KafkaCluster
from monitor.embedded.kafka_jars import missing_tools
from monitor.settings import KafkaSettings, Settings


def require_kafka() -> None:
    reason = missing_tools()
    if reason is not None:
        pytest.skip(f"real-Kafka tier skipped: {reason}")


@pytest.fixture(scope="session")
def kafka_node() -> Iterator[KafkaCluster]:
    """One Apache Kafka node for the whole session."""
    require_kafka()
    with KafkaCluster(1) as cluster:
        yield cluster


@pytest.fixture
def kafka_stack(services: Settings, kafka_node: KafkaCluster) -> Settings:
    """The embedded Redis and a real Kafka broker, with topics and a group of this test's own."""
    settings = on_kafka(services, kafka_node.bootstrap_servers)
    asyncio.run(ensure_topics(settings.kafka, topics_for(settings.kafka)))
    return settings


def on_kafka(services: Settings, bootstrap: str, **kafka: object) -> Settings:
    """Settings for a real broker with this test's own topics and group (not created yet:
    ``await ensure_topics(settings.kafka, topics_for(settings.kafka))``)."""
    suffix = uuid.uuid4().hex[:8]
    settings = KafkaSettings(
        bootstrap_servers=bootstrap,
        partitions=2,
        session_timeout_ms=6000,
        comments_topic=f"comments-{suffix}",
        alerts_topic=f"alerts-{suffix}",
        scores_topic=f"scores-{suffix}",
        dead_letter_topic=f"dlq-{suffix}",
        consumer_group=f"scorer-{suffix}",
        enable_idempotence=True,
        **kafka,  # type: ignore[arg-type]
    )
    redis = services.redis.model_copy(update={"key_prefix": f"k{suffix}:"})
    return services.model_copy(update={"kafka": settings, "redis": redis})
