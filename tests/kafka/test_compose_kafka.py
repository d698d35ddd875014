"""docker-compose.yml's Kafka settings start the real broker (first-hour item 7): the KRaft
settings and cluster id of the compose file, as the apache/kafka image renders them, format
and run Apache Kafka; the topics kafka-init creates work, and no other topic is created."""

from __future__ import annotations

import asyncio
import re
import socket
from pathlib import Path

import pytest
import yaml

from monitor.bus import Consumer, Producer, ensure_topics
from monitor.bus.admin import TopicSpec
from monitor.embedded.apache_kafka import KafkaNode
from monitor.embedded.kafka_jars import KAFKA_VERSION, ensure_jars
from monitor.errors import BusError
from monitor.settings import KafkaSettings
from tests.kafka.compose_env import on_loopback, to_properties
from tests.kafka.conftest import require_kafka

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_compose_kafka_settings_start_the_real_broker(tmp_path: Path) -> None:
    require_kafka()
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    service = compose["services"]["kafka"]
    assert service["image"] == f"apache/kafka:{KAFKA_VERSION}"  # the version the tests run
    properties, cluster_id = to_properties(service["environment"])
    assert cluster_id is not None and properties["process.roles"] == "broker,controller"
    client, controller = _free_port(), _free_port()
    local = on_loopback(properties, tmp_path, client=client, controller=controller)
    assert {
        k: v
        for k, v in local.items()
        if k not in ("listeners", "advertised.listeners", "controller.quorum.voters", "log.dirs")
    } == {
        k: v
        for k, v in properties.items()
        if k not in ("listeners", "advertised.listeners", "controller.quorum.voters", "log.dirs")
    }

    node = KafkaNode(1, tmp_path, local, ensure_jars())  # type: ignore[arg-type]
    node.format(cluster_id, [])
    node.start()
    try:
        node.wait_started(120)
        kafka = KafkaSettings(bootstrap_servers=f"127.0.0.1:{client}")
        init = compose["services"]["kafka-init"]["command"][0]
        found = re.search(r"for topic in ([^;]+);", init)
        assert found is not None
        names = found.group(1).split()
        assert names == [
            "weibo.comments",
            "lovelorn.alerts",
            "lovelorn.scores",
            "weibo.comments.dlq",
        ]
        asyncio.run(ensure_topics(kafka, [TopicSpec(n, 6, 1) for n in names]))

        async def round_trip() -> list[bytes]:
            async with Producer(kafka) as producer:
                await producer.send_and_wait("weibo.comments", b"hello", key=b"p")
            async with Consumer(kafka, group_id=None) as consumer:
                tps = await consumer.partitions("weibo.comments")
                consumer.assign(tps)
                await consumer.seek_to_beginning(tps)
                got = await consumer.getmany(timeout_ms=5000)
            return [r.value for rs in got.values() for r in rs]

        assert asyncio.run(round_trip()) == [b"hello"]
        with pytest.raises(BusError):  # auto.create.topics.enable=false, as in compose

            async def unknown_topic() -> None:
                async with Producer(
                    kafka.model_copy(update={"request_timeout_ms": 5000})
                ) as producer:
                    await asyncio.wait_for(producer.send_and_wait("no.such.topic", b"x"), 20)

            try:
                asyncio.run(unknown_topic())
            except TimeoutError as exc:
                raise BusError("no such topic: the producer waited for metadata") from exc
        assert (
            f"Cluster ID = {cluster_id}" in node.log.read_text()
            or cluster_id in (tmp_path / "data" / "meta.properties").read_text()
        )
    finally:
        node.kill()
