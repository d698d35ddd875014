"""Exactly-once alerts on Apache Kafka (`kafka.exactly_once`): a scorer killed mid-stream and
replaced leaves every alert once in the alerts topic for a read_committed consumer, and once
in Redis."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

from monitor.bus import ensure_topics
from monitor.bus.admin import topics_for
from monitor.schemas import Alert, Score, decode
from monitor.settings import Settings
from tests.fixtures import (
    TEXTS,
    copy_home,
    current_version,
    expected_alerts,
    make_comment,
    produce_comments,
    read_topic,
    redis_alerts,
    scorer_env,
    scorer_settings,
    start_cli,
)
from tests.kafka.conftest import on_kafka


async def test_a_killed_scorer_leaves_each_alert_once_for_read_committed_readers(
    services: Settings,
    kafka_node,
    tiny_home: Path,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    base = on_kafka(
        services,
        kafka_node.bootstrap_servers,
        exactly_once=True,
        transactional_id=f"lovelorn-test-{os.getpid()}",
        transaction_timeout_ms=10000,
    )
    settings = scorer_settings(base, copy_home(tiny_home, tmp_path), max_batch=8)
    await ensure_topics(settings.kafka, topics_for(settings.kafka))
    comments = [make_comment(i, TEXTS[i % len(TEXTS)]) for i in range(400)]
    expected = expected_alerts(settings, comments)
    assert 0 < len(expected) < 400
    version = current_version(settings)
    await produce_comments(settings.kafka, comments)

    log = tmp_path / "score.log"
    first = start_cli(["score"], scorer_env(settings), log)
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 120
        while len(await redis_alerts(settings)) < len(expected) // 3:
            assert first.poll() is None and loop.time() < deadline, log.read_text()[-3000:]
            await asyncio.sleep(0.2)
        first.send_signal(signal.SIGKILL)  # mid-transaction, most likely
        first.wait()
        second = start_cli(
            ["score"], scorer_env(settings), log
        )  # same transactional id: fences the dead one
        try:
            deadline = loop.time() + 180
            while True:
                scores = await read_topic(
                    settings.kafka, settings.kafka.scores_topic, timeout_s=3, read_committed=True
                )
                if len({decode(Score, r.value).comment_id for r in scores}) == 400:
                    break
                assert second.poll() is None and loop.time() < deadline, log.read_text()[-3000:]
                await asyncio.sleep(1)
        finally:
            second.send_signal(signal.SIGTERM)
            assert second.wait(timeout=60) == 0, log.read_text()[-3000:]
    finally:
        if first.poll() is None:
            first.kill()

    committed = [
        decode(Alert, r.value)
        for r in await read_topic(
            settings.kafka, settings.kafka.alerts_topic, timeout_s=5, read_committed=True
        )
    ]
    ids = [a.alert_id for a in committed]
    assert len(ids) == len(set(ids)), "a read_committed consumer saw an alert twice"
    assert sorted(a.comment_id for a in committed) == sorted(expected)
    assert {a.model_version for a in committed} == {version}
    scores = await read_topic(settings.kafka, settings.kafka.scores_topic, read_committed=True)
    assert len(scores) == 400  # every score once as well
    in_redis = await redis_alerts(settings)
    assert sorted(a.comment_id for a in in_redis) == sorted(expected)
