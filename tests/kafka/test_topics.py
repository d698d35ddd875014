"""Topics from the settings on Apache Kafka: a creation the cluster refuses (a replication
factor above its broker count) is one error at once, not an outage waited out for ever."""

from __future__ import annotations

import asyncio

import pytest

from monitor.bus.admin import partition_counts, prepare_topics
from monitor.errors import BusError
from monitor.settings import Settings
from tests.kafka.conftest import on_kafka


async def test_topics_get_the_configured_partitions_and_a_refusal_is_one_error(
    services: Settings,
    kafka_node,  # type: ignore[no-untyped-def]
) -> None:
    kafka = on_kafka(services, kafka_node.bootstrap_servers).kafka.model_copy(
        update={"partitions": 3}
    )
    created = await prepare_topics(kafka)
    assert await partition_counts(kafka, created) == dict.fromkeys(created, 3)

    too_wide = on_kafka(services, kafka_node.bootstrap_servers).kafka.model_copy(
        update={"replication_factor": 3}  # one node
    )
    with pytest.raises(BusError, match="InvalidReplicationFactor") as refused:
        await asyncio.wait_for(prepare_topics(too_wide), 30)
    assert refused.value.retriable is False
