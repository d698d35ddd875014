"""The scorer on real Tansu + Redis with a tiny trained model."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from monitor.schemas import Alert, alert_id, decode
from monitor.scoring.service import ScorerService
from monitor.settings import Settings
from tests.fixtures import (
    TEXTS,
    current_version,
    expected_alerts,
    make_comment,
    produce_comments,
    read_topic,
    redis_alerts,
    scorer_settings,
    wait_for,
)


async def test_every_comment_scored_and_alerts_exactly_once(
    stack: Settings, tiny_home: Path
) -> None:
    settings = scorer_settings(stack, tiny_home, emit_scores=True)
    comments = [make_comment(i, TEXTS[i % len(TEXTS)]) for i in range(200)]
    expected = expected_alerts(settings, comments)
    assert 0 < len(expected) < len(comments)  # the fixture model separates something

    await produce_comments(settings.kafka, comments)
    service = ScorerService(settings)
    stop = asyncio.Event()
    task = asyncio.create_task(service.run(stop))
    await wait_for(lambda: service.stats.scored >= 200 or task.done(), timeout_s=60)
    await asyncio.sleep(0.5)  # a commit interval
    stop.set()
    await task

    in_redis = await redis_alerts(settings)
    assert sorted(a.comment_id for a in in_redis) == sorted(expected)
    version = current_version(settings)
    for a in in_redis:
        assert a.alert_id == alert_id(a.comment_id, version) and a.model_version == version
        assert a.score == pytest.approx(expected[a.comment_id], abs=1e-5)
        assert "default" in a.policies
    kafka_alerts = [
        decode(Alert, r.value)
        for r in await read_topic(settings.kafka, settings.kafka.alerts_topic)
    ]
    assert sorted(a.comment_id for a in kafka_alerts) == sorted(expected)
    scores = await read_topic(settings.kafka, settings.kafka.scores_topic)
    assert sorted(json.loads(r.value)["comment_id"] for r in scores) == sorted(
        c.comment_id for c in comments
    )
    assert service.stats.dead_letters == 0
    assert service.metrics.value("comments_scored_total") == 200
    assert sum(service.stats.lag.values()) == 0  # everything committed
