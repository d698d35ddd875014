"""The scorer on real Tansu + Redis with a tiny trained model."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from monitor.redis_client import connect_redis
from monitor.registry import ModelRegistry
from monitor.schemas import Alert, alert_id, decode
from monitor.scoring.policies import Thresholds
from monitor.scoring.predictor import PaddlePredictor
from monitor.scoring.service import ScorerService
from monitor.settings import Settings
from monitor.sinks.redis import RedisKeys
from tests.fixtures import EVERYDAY, LOVELORN, make_comment, produce_comments, read_topic, wait_for

TEXTS = LOVELORN + EVERYDAY


def _settings(stack: Settings, home: Path, **scorer: object) -> Settings:
    return stack.model_copy(
        update={
            "home": home,
            "scorer": stack.scorer.model_copy(
                update={"max_batch": 16, "max_wait_ms": 20, "commit_interval_s": 0.2} | scorer
            ),
        }
    )


def _expected_alerts(settings: Settings, comments: list) -> dict[str, float]:  # type: ignore[type-arg]
    registry = ModelRegistry(settings.registry_root)
    predictor = PaddlePredictor.from_registry(registry, settings.scorer)
    try:
        probs = predictor.probabilities([c.text for c in comments])
        lowest = Thresholds.from_manifest(predictor.manifest, settings.alerts).lowest
        return {c.comment_id: float(p) for c, p in zip(comments, probs, strict=True) if p >= lowest}
    finally:
        predictor.close()


async def _redis_alerts(settings: Settings) -> list[Alert]:
    redis = connect_redis(settings.redis)
    try:
        entries = await redis.xrange(RedisKeys(settings.redis.key_prefix).stream)
    finally:
        await redis.aclose()
    return [decode(Alert, fields[b"alert"]) for _, fields in entries]


async def test_every_comment_scored_and_alerts_exactly_once(
    stack: Settings, tiny_home: Path
) -> None:
    settings = _settings(stack, tiny_home, emit_scores=True)
    comments = [make_comment(i, TEXTS[i % len(TEXTS)]) for i in range(200)]
    expected = _expected_alerts(settings, comments)
    assert 0 < len(expected) < len(comments)  # the fixture model separates something

    await produce_comments(settings.kafka, comments)
    service = ScorerService(settings)
    stop = asyncio.Event()
    task = asyncio.create_task(service.run(stop))
    await wait_for(lambda: service.stats.scored >= 200 or task.done(), timeout_s=60)
    await asyncio.sleep(0.5)  # a commit interval
    stop.set()
    await task

    redis_alerts = await _redis_alerts(settings)
    assert sorted(a.comment_id for a in redis_alerts) == sorted(expected)
    for a in redis_alerts:
        assert a.alert_id == alert_id(a.comment_id, "v1") and a.model_version == "v1"
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
