"""Broker readiness and topic creation."""

from __future__ import annotations

from dataclasses import dataclass, field

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from monitor.bus.connection import connection_options, translate_errors
from monitor.errors import BusError
from monitor.retry import poll_until
from monitor.settings import KafkaSettings

__all__ = ["TopicSpec", "ensure_topics", "topics_for", "wait_for_broker"]


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    replication: int = 1
    configs: dict[str, str] = field(default_factory=dict)


def topics_for(kafka: KafkaSettings) -> list[TopicSpec]:
    """The monitor's topics; alerts and scores share the input's partition count."""
    configs = (
        {"min.insync.replicas": str(kafka.min_insync_replicas)} if kafka.min_insync_replicas else {}
    )
    return [
        TopicSpec(name, kafka.partitions, kafka.replication_factor, configs)
        for name in (
            kafka.comments_topic,
            kafka.alerts_topic,
            kafka.scores_topic,
            kafka.dead_letter_topic,
        )
    ]


async def wait_for_broker(kafka: KafkaSettings, timeout_s: float = 30.0) -> None:
    async def probe() -> None:
        admin = AIOKafkaAdminClient(**connection_options(kafka))
        try:
            await admin.start()
            await admin.list_topics()
        finally:
            await admin.close()

    error = await poll_until(probe, timeout_s, interval_s=0.2)
    if error is not None:
        raise BusError(
            f"Kafka at {kafka.bootstrap_servers} not reachable after {timeout_s:.0f}s: {error}"
        )


async def ensure_topics(kafka: KafkaSettings, specs: list[TopicSpec]) -> list[str]:
    """Create the topics that do not exist yet; returns the names created."""
    admin = AIOKafkaAdminClient(**connection_options(kafka))
    with translate_errors(f"creating topics on {kafka.bootstrap_servers}"):
        await admin.start()
        try:
            existing = set(await admin.list_topics())
            missing = [s for s in specs if s.name not in existing]
            if missing:
                try:
                    response = await admin.create_topics(
                        [
                            NewTopic(s.name, s.partitions, s.replication, topic_configs=s.configs)
                            for s in missing
                        ]
                    )
                except TopicAlreadyExistsError:
                    return []
                # aiokafka returns per-topic errors instead of raising them
                refused = [
                    f"{name}: error {code} {message or ''}".strip()
                    for name, code, *rest in response.topic_errors
                    for message in (rest[0] if rest else None,)
                    if code not in (0, 36)  # 36: already exists (another creator won)
                ]
                if refused:
                    raise BusError(f"creating topics refused: {'; '.join(refused)}")
            return [s.name for s in missing]
        finally:
            await admin.close()
