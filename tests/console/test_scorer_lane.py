"""The scorer's side of the console, on the embedded broker and Redis: it samples
non-alerting comments into the review lane (the same ones after a redelivery), records
hourly score histograms, and pushes alerts to a configured webhook, signed."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from pathlib import Path

from monitor.schemas import Sampled, utcnow
from monitor.scoring.decider import sampled
from monitor.scoring.service import ScorerService
from monitor.settings import Settings, WebhookSettings
from monitor.sinks.webhook import verify
from monitor.store import ReviewLane, Store, score_bin
from tests.fixtures import (
    EVERYDAY,
    LOVELORN,
    make_comment,
    produce_comments,
    redis_alerts,
    scorer_settings,
    wait_for,
)
from tests.scoring.word_model import word_registry
from tests.sinks.receiver import receiving


async def test_scorer_fills_the_review_lane_and_pushes_alerts_to_the_webhook(
    stack: Settings, tmp_path: Path
) -> None:
    load = word_registry(tmp_path)
    comments = [make_comment(i, (LOVELORN + EVERYDAY)[i % 40]) for i in range(120)]
    await produce_comments(stack.kafka, comments)

    async with receiving() as receiver:
        settings = scorer_settings(stack, tmp_path, review_sample_rate=0.5).model_copy(
            update={
                "webhook": WebhookSettings(
                    url=receiver.url, secret="hook-secret", policies=["default"]
                )
            }
        )
        service = ScorerService(settings, load_predictor=load)
        stop = asyncio.Event()
        task = asyncio.create_task(service.run(stop))
        await wait_for(lambda: service.stats.scored >= 120 or task.done(), timeout_s=60)
        stop.set()
        await task

    alerts = await redis_alerts(settings)
    assert len(alerts) == 60
    pushed = {
        h["idempotency-key"]: json.loads(b)
        for h, b in receiver.requests
        if verify(b"hook-secret", b, h)
    }
    assert sorted(pushed) == sorted(a.alert_id for a in alerts)  # every alert, every one signed

    expected = sorted(
        c.comment_id for c in comments if c.text not in LOVELORN and sampled(c.comment_id, 0.5)
    )
    assert 15 < len(expected) < 45
    async with Store(settings.redis) as store:
        entries = await store.redis.xrange(store.keys.review_lane)
        samples = [Sampled.model_validate_json(f[b"sample"]) for _, f in entries]
        assert sorted(s.comment_id for s in samples) == expected
        assert all(
            s.score < s.threshold and s.text in EVERYDAY and s.model_version == "v1"
            for s in samples
        )
        now = utcnow()
        histogram = await ReviewLane(store).histogram("v1", [now - timedelta(hours=1), now])
        assert histogram[score_bin(0.9)] >= 60 and histogram[score_bin(0.1)] >= 60
    assert service.stats.samples == len(expected)
