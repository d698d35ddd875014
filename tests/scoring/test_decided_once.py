"""A comment the poller published twice (two offsets) is decided once, on the embedded broker
(at least once, no crash): one alert in Redis, one alert record and one score record in
Kafka. And the rule behind it: the record that owns a comment's decision is emitted every
time it is read (a re-read after a crash), any other record with that comment never."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

from monitor.bus import Consumer
from monitor.schemas import Alert, Comment, Score, decode
from monitor.scoring.service import ScorerService
from monitor.settings import Settings
from monitor.store import Store
from tests.fixtures import (
    LOVELORN,
    TEXTS,
    make_comment,
    produce_comments,
    read_topic,
    redis_alerts,
    scorer_settings,
    wait_for,
)
from tests.scoring.word_model import word_registry


async def _outputs(settings: Settings) -> tuple[Counter[str], Counter[str], Counter[str]]:
    """comment id → how many alerts in Redis, alert records and score records in Kafka."""
    kafka = settings.kafka
    redis = Counter(a.comment_id for a in await redis_alerts(settings))
    alerts = Counter(
        decode(Alert, r.value).comment_id for r in await read_topic(kafka, kafka.alerts_topic)
    )
    scores = Counter(
        decode(Score, r.value).comment_id for r in await read_topic(kafka, kafka.scores_topic)
    )
    return redis, alerts, scores


async def test_a_comment_published_twice_yields_one_alert_and_one_score(
    stack: Settings, tmp_path: Path
) -> None:
    settings = scorer_settings(stack, tmp_path, emit_scores=True)
    service = ScorerService(settings, load_predictor=word_registry(tmp_path))
    comments = [make_comment(i, TEXTS[i % len(TEXTS)]) for i in range(40)]
    # c0 again right behind itself (most likely in the same micro-batch)
    await produce_comments(settings.kafka, [*comments, comments[0]])
    stop = asyncio.Event()
    task = asyncio.create_task(service.run(stop))
    try:
        await wait_for(lambda: service.stats.records >= 41 or task.done(), timeout_s=60)
        await asyncio.sleep(0.6)  # a few commit intervals: the first copies are committed
        # the poller's crash case: c1 and c25 published again long after, beside a new one
        late = [comments[1], comments[25], make_comment(100, LOVELORN[3])]
        await produce_comments(settings.kafka, late)
        await wait_for(lambda: service.stats.records >= 44 or task.done(), timeout_s=60)
        await asyncio.sleep(0.6)
    finally:
        stop.set()
        await task

    redis, alerts, scores = await _outputs(settings)
    lovelorn = sorted(c.comment_id for c in [*comments, late[2]] if c.text in LOVELORN)
    assert sorted(redis.elements()) == lovelorn  # each once
    assert sorted(alerts.elements()) == lovelorn
    assert sorted(scores.elements()) == sorted(c.comment_id for c in [*comments, late[2]])
    assert service.stats.scored == 41 and service.stats.records == 44


async def test_the_owner_is_emitted_again_and_a_copy_owned_elsewhere_never(
    stack: Settings, tmp_path: Path
) -> None:
    """c0's claim names its own record, as a scorer killed before its commit leaves it: the
    re-read record still owns c0 and is emitted. c1's claim names another record (the copy
    that got there first): this copy is dropped, with its offset committed all the same."""
    settings = scorer_settings(stack, tmp_path, emit_scores=True)
    comments = [make_comment(0, LOVELORN[0]), make_comment(1, LOVELORN[1]), make_comment(2, "早安")]
    await produce_comments(settings.kafka, comments)
    records = await read_topic(settings.kafka, settings.kafka.comments_topic)
    where = {
        decode(Comment, r.value).comment_id: f"{r.topic}/{r.partition}/{r.offset}" for r in records
    }
    async with Store(settings.redis) as store:
        await store.redis.set(store.keys.comment_owner("c0"), where["c0"])
        await store.redis.set(
            store.keys.comment_owner("c1"), f"{settings.kafka.comments_topic}/0/999"
        )

    service = ScorerService(settings, load_predictor=word_registry(tmp_path))
    stop = asyncio.Event()
    task = asyncio.create_task(service.run(stop))
    try:
        await wait_for(lambda: service.stats.records >= 3 or task.done(), timeout_s=60)
        await asyncio.sleep(0.6)
    finally:
        stop.set()
        await task

    redis, alerts, scores = await _outputs(settings)
    assert sorted(redis.elements()) == sorted(alerts.elements()) == ["c0"]
    assert sorted(scores.elements()) == ["c0", "c2"]
    dropped = next(r for r in records if decode(Comment, r.value).comment_id == "c1")
    async with Consumer(settings.kafka, group_id=settings.kafka.consumer_group) as consumer:
        committed = await consumer.committed(dropped.tp)
    assert committed is not None and committed > dropped.offset  # the dropped copy is done
