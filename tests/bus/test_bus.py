"""Round trips through the real embedded broker and Redis, and the topics every command
creates from the settings."""

import asyncio
import signal
import uuid
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from monitor.bus import Consumer, Producer, TopicPartition, TopicSpec, ensure_topics
from monitor.bus.admin import partition_counts, prepare_topics
from monitor.embedded.processes import free_port
from monitor.schemas import encode
from monitor.settings import KafkaSettings, Settings
from monitor.store import connect as connect_redis
from tests.fixtures import LOVELORN, make_comment, run_cli, scorer_env, start_cli, unique_topics
from tests.proctree import kill_tree


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


# -- topics: every command creates them from the settings (issue 25, item 6) -------------


def _fresh_topics(services: Settings, home: Path, partitions: int = 5) -> Settings:
    """``services`` with topics nobody created yet, ``partitions`` each, and a home."""
    kafka = unique_topics(services.kafka, partitions=partitions)
    redis = services.redis.model_copy(update={"key_prefix": f"t{uuid.uuid4().hex[:8]}:"})
    return services.model_copy(update={"kafka": kafka, "redis": redis, "home": home})


def _names(kafka: KafkaSettings) -> list[str]:
    return [kafka.comments_topic, kafka.alerts_topic, kafka.scores_topic, kafka.dead_letter_topic]


async def test_prepare_topics_creates_every_topic_from_the_settings(
    services: Settings, tmp_path: Path
) -> None:
    kafka = _fresh_topics(services, tmp_path).kafka
    extra = f"replayed-{kafka.consumer_group}"
    created = await prepare_topics(kafka, extra=[extra])
    assert sorted(created) == sorted([*_names(kafka), extra])
    assert await partition_counts(kafka, [*_names(kafka), extra]) == dict.fromkeys(created, 5)
    assert await prepare_topics(kafka) == []  # idempotent


async def test_a_narrow_existing_topic_is_named_not_altered(
    services: Settings, tmp_path: Path
) -> None:
    kafka = _fresh_topics(services, tmp_path).kafka
    await ensure_topics(kafka, [TopicSpec(kafka.comments_topic, 1)])  # e.g. auto-created
    with capture_logs() as logs:
        created = await prepare_topics(kafka)
    assert sorted(created) == sorted(_names(kafka)[1:])
    warned = [e for e in logs if e["event"] == "topic_has_fewer_partitions"]
    assert [(e["topic"], e["partitions"], e["configured"]) for e in warned] == [
        (kafka.comments_topic, 1, 5)
    ]
    assert "--partitions 5" in warned[0]["fix"]
    assert (await partition_counts(kafka, [kafka.comments_topic]))[kafka.comments_topic] == 1


def test_poll_creates_every_topic_with_the_configured_partitions(
    services: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = _fresh_topics(services, tmp_path)
    for name, value in _cli_env(settings).items():
        monkeypatch.setenv(name, value)
    path = tmp_path / "c.jsonl"
    path.write_text(encode(make_comment(1, LOVELORN[0])).decode() + "\n", encoding="utf-8")
    result = run_cli("poll", "--from-file", str(path))
    assert result.code == 0, result.err
    counts = asyncio.run(partition_counts(settings.kafka, _names(settings.kafka)))
    assert counts == dict.fromkeys(_names(settings.kafka), 5)


async def test_score_and_run_create_every_topic_with_the_configured_partitions(
    services: Settings, tmp_path: Path
) -> None:
    """``run`` and its two children each create them, from the settings; nothing of the
    broker's own default (one partition on Apache Kafka, four on the embedded one)."""
    stream = tmp_path / "c.jsonl"
    stream.write_text(encode(make_comment(1, LOVELORN[0])).decode() + "\n", encoding="utf-8")
    started = []
    for command in (["score"], ["run", "--from-file", str(stream)]):
        settings = _fresh_topics(services, tmp_path / command[0])
        env = scorer_env(settings) | _cli_env(settings)
        process = start_cli(command, env, tmp_path / f"{command[0]}.log")
        started.append((settings, process, tmp_path / f"{command[0]}.log"))
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 120  # Paddle loads first in `score`
        for settings, process, log in started:
            names = _names(settings.kafka)
            while len(counts := await partition_counts(settings.kafka, names)) < len(names):
                assert process.poll() is None, log.read_text()[-3000:]
                assert loop.time() < deadline, f"only {sorted(counts)} created"
                await asyncio.sleep(0.2)
            assert counts == dict.fromkeys(names, 5), log.read_text()[-3000:]
    finally:
        for _, process, _log in started:
            process.send_signal(signal.SIGTERM)
        for _, process, log in started:
            try:
                assert process.wait(timeout=60) == 0, log.read_text()[-3000:]
            finally:
                kill_tree(process)


def _cli_env(settings: Settings) -> dict[str, str]:
    kafka = settings.kafka
    return {
        "LOVELORN_HOME": str(settings.home),
        "LOVELORN_KAFKA__BOOTSTRAP_SERVERS": kafka.bootstrap_servers or "",
        "LOVELORN_KAFKA__LAG_FROM_HIGHWATER": str(kafka.lag_from_highwater).lower(),
        "LOVELORN_KAFKA__PARTITIONS": str(kafka.partitions),
        "LOVELORN_KAFKA__COMMENTS_TOPIC": kafka.comments_topic,
        "LOVELORN_KAFKA__ALERTS_TOPIC": kafka.alerts_topic,
        "LOVELORN_KAFKA__SCORES_TOPIC": kafka.scores_topic,
        "LOVELORN_KAFKA__DEAD_LETTER_TOPIC": kafka.dead_letter_topic,
        "LOVELORN_KAFKA__CONSUMER_GROUP": kafka.consumer_group,
        "LOVELORN_REDIS__URL": settings.redis.url or "",
        "LOVELORN_REDIS__KEY_PREFIX": settings.redis.key_prefix,
        "LOVELORN_REGISTRY__BUNDLED": "true",  # the packaged model: nothing to train
        "LOVELORN_SCORER__METRICS_PORT": str(free_port()),
        "LOVELORN_WEIBO__METRICS_PORT": str(free_port()),
    }
