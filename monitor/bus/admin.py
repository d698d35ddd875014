"""Broker readiness and topic creation.

Every command that may make a topic exist creates it here first, from the settings
(``prepare_topics``): a producer or consumer that meets a missing topic makes the broker
auto-create it with *its* defaults — one partition on Apache Kafka, no replication or
``min.insync.replicas`` of ours — and a topic's partition count is the most scorers a
consumer group can spread over. Topics that already exist are left as they are (adding
partitions moves keys between them: an operator's decision); one with fewer partitions
than ``kafka.partitions`` gets a warning saying how to add them — from the commands whose
scale it limits (``score``, ``run``), not from one-shot ones whose stderr is one line.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass, field

import structlog
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError, for_code

from monitor.bus.connection import connection_options, explaining, translate_errors
from monitor.errors import BusError
from monitor.retry import Retry, poll_until
from monitor.settings import KafkaSettings

__all__ = [
    "TopicSpec",
    "ensure_topics",
    "partition_counts",
    "prepare_topics",
    "topic_spec",
    "topics_for",
    "wait_for_broker",
]

log = structlog.get_logger()


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    replication: int = 1
    configs: dict[str, str] = field(default_factory=dict)


def topic_spec(kafka: KafkaSettings, name: str) -> TopicSpec:
    """Any topic of ours as the settings shape it: partitions, replication, min ISR."""
    configs = (
        {"min.insync.replicas": str(kafka.min_insync_replicas)} if kafka.min_insync_replicas else {}
    )
    return TopicSpec(name, kafka.partitions, kafka.replication_factor, configs)


def topics_for(kafka: KafkaSettings, extra: Iterable[str] = ()) -> list[TopicSpec]:
    """The monitor's topics (and ``extra`` ones); alerts and scores share the input's
    partition count."""
    names = [kafka.comments_topic, kafka.alerts_topic, kafka.scores_topic, kafka.dead_letter_topic]
    names += [name for name in extra if name not in names]
    return [topic_spec(kafka, name) for name in names]


async def prepare_topics(
    kafka: KafkaSettings,
    *,
    extra: Iterable[str] = (),
    stop: asyncio.Event | None = None,
    timeout_s: float | None = None,
    warn_narrow: bool = True,
) -> list[str]:
    """Create the monitor's topics (and ``extra`` ones) that do not exist yet, from the
    settings, before any client can make the broker auto-create them; returns the names
    created. Waits out a broker outage (one log line when it starts and one when it ends;
    Stopped when ``stop`` is set) unless ``timeout_s`` bounds the wait (one-shot commands);
    a refused credential raises at once. ``warn_narrow``: warn about existing topics with
    fewer partitions than configured."""
    specs = topics_for(kafka, extra)
    retry = Retry("Kafka", base_s=1.0, cap_s=30.0, retry_on=(BusError,), timeout_s=timeout_s)
    created = await retry.call(
        lambda: ensure_topics(kafka, specs, warn_narrow=warn_narrow), stop=stop
    )
    if created:
        log.info(
            "topics_created",
            topics=created,
            partitions=kafka.partitions,
            replication=kafka.replication_factor,
            min_insync_replicas=kafka.min_insync_replicas,
        )
    return created


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


async def ensure_topics(
    kafka: KafkaSettings, specs: list[TopicSpec], *, warn_narrow: bool = True
) -> list[str]:
    """Create the topics that do not exist yet; returns the names created."""
    admin = AIOKafkaAdminClient(**connection_options(kafka))
    with translate_errors(f"creating topics on {kafka.bootstrap_servers}"):
        try:  # closed also when the start fails or is cancelled (SIGTERM during an outage)
            with explaining(kafka, f"connecting the admin client to {kafka.bootstrap_servers}"):
                await admin.start()  # a refused password is one clear, non-retriable error
            existing = set(await admin.list_topics())
            missing = [s for s in specs if s.name not in existing]
            if warn_narrow:
                await _warn_if_narrow(admin, [s for s in specs if s.name in existing])
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
                errors = [
                    (name, code, rest[0] if rest else None)
                    for name, code, *rest in response.topic_errors
                    if code not in (0, 36)  # 36: already exists (another creator won)
                ]
                if errors:
                    error = BusError(
                        "creating topics refused: "
                        + "; ".join(
                            f"{name}: {for_code(code).__name__} {message or ''}".strip()
                            for name, code, message in errors
                        )
                    )
                    # a bad replication factor or a missing ACL is not an outage to wait out
                    error.retriable = all(for_code(code).retriable for _, code, _ in errors)
                    raise error
            return [s.name for s in missing]
        finally:
            await admin.close()


async def partition_counts(kafka: KafkaSettings, names: Iterable[str]) -> dict[str, int]:
    """How many partitions each of ``names`` has; topics that do not exist are left out
    (and are not created: the embedded broker creates a topic it is asked to describe)."""
    admin = AIOKafkaAdminClient(**connection_options(kafka))
    with translate_errors(f"describing topics on {kafka.bootstrap_servers}"):
        try:
            await admin.start()
            return await _counts(admin, set(await admin.list_topics()) & set(names))
        finally:
            await admin.close()


async def _counts(admin: AIOKafkaAdminClient, names: Iterable[str]) -> dict[str, int]:
    names = sorted(names)
    if not names:
        return {}
    return {
        topic["topic"]: len(topic.get("partitions") or ())
        for topic in await admin.describe_topics(names)
        if topic.get("error_code", 0) == 0
    }


async def _warn_if_narrow(admin: AIOKafkaAdminClient, specs: list[TopicSpec]) -> None:
    """Say so when an existing topic has fewer partitions than asked for (made by an older
    version, or auto-created): scorers beyond its partition count would sit idle."""
    try:
        counts = await _counts(admin, [s.name for s in specs])
    except KafkaError as exc:  # only a warning: never a reason to stop (an ACL may forbid it)
        log.debug("describe_topics_failed", error=str(exc))
        return
    for spec in specs:
        have = counts.get(spec.name, 0)
        if 0 < have < spec.partitions:
            log.warning(
                "topic_has_fewer_partitions",
                topic=spec.name,
                partitions=have,
                configured=spec.partitions,
                fix=f"kafka-topics.sh --alter --topic {spec.name} --partitions {spec.partitions}",
            )
