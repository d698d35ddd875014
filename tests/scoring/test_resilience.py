"""Redis outage backpressure and privacy mode, on the real scorer."""

from __future__ import annotations

import asyncio
import json
import os
import signal
from pathlib import Path

from pydantic import SecretStr

from monitor.embedded import EmbeddedServices
from monitor.scoring.service import ScorerService
from monitor.settings import Settings
from monitor.store import connect as connect_redis
from tests.fixtures import (
    LOVELORN,
    TEXTS,
    expected_alerts,
    make_comment,
    produce_comments,
    read_topic,
    redis_alerts,
    scorer_settings,
    wait_for,
)


async def _committed_total(service: ScorerService) -> int:
    return sum(service.checkpoint.committed().values())


async def test_redis_outage_pauses_without_committing_then_resumes(
    stack: Settings, tiny_home: Path
) -> None:
    settings = scorer_settings(stack, tiny_home, max_batch=8, max_inflight_batches=2)
    redis_settings = settings.redis.model_copy(update={})
    comments = [make_comment(i, TEXTS[i % len(TEXTS)]) for i in range(300)]
    expected = expected_alerts(settings, comments)
    redis_pid = EmbeddedServices(stack, stack.services_dir).recorded()["redis"].pid

    service = ScorerService(settings.model_copy(update={"redis": redis_settings}))
    stop = asyncio.Event()
    task = asyncio.create_task(service.run(stop))
    await asyncio.wait_for(service.ready.wait(), 30)
    os.kill(
        redis_pid, signal.SIGSTOP
    )  # Redis stops answering (a hung server, worse than a refused connection)
    try:
        await produce_comments(settings.kafka, comments)
        await asyncio.sleep(12)  # socket timeouts, retries with backoff, fetch paused
        assert not task.done()
        assert service.metrics.value("sink_backpressure_total", sink="redis") >= 1
        assert service.metrics.value("fetch_paused") == 1
        held = service.stats.records
        committed = await _committed_total(service)
        # nothing was delivered to Redis, so nothing past the first stuck batch may be committed
        assert committed <= 2 * 8 and held < len(comments)
    finally:
        os.kill(redis_pid, signal.SIGCONT)
    await wait_for(lambda: service.stats.scored >= len(comments) or task.done(), timeout_s=90)
    await asyncio.sleep(0.5)
    stop.set()
    await task
    alerts = await redis_alerts(settings)
    assert sorted(a.comment_id for a in alerts) == sorted(
        expected
    )  # all delivered once Redis returned
    assert service.metrics.value("fetch_paused") == 0


async def test_privacy_mode_pseudonymises_and_minimises(stack: Settings, tiny_home: Path) -> None:
    settings = scorer_settings(stack, tiny_home, emit_scores=True)
    settings = settings.model_copy(
        update={
            "alerts": settings.alerts.model_copy(
                update={
                    "privacy_mode": True,
                    "pseudonym_key": SecretStr("k3y-for-tests"),
                    "minimal_payload": True,
                }
            )
        }
    )
    comments = [
        make_comment(i, LOVELORN[i % len(LOVELORN)], user=f"realuser{i % 3}") for i in range(30)
    ]
    await produce_comments(settings.kafka, comments)
    service = ScorerService(settings)
    stop = asyncio.Event()
    task = asyncio.create_task(service.run(stop))
    await wait_for(lambda: service.stats.scored >= 30 or task.done(), timeout_s=60)
    await asyncio.sleep(0.4)
    stop.set()
    await task

    alerts = await redis_alerts(settings)
    assert alerts
    for alert in alerts:
        assert alert.user_id and alert.user_id.startswith("u_") and "realuser" not in alert.user_id
        assert alert.text is None and alert.user_name is None
    assert len({a.user_id for a in alerts}) <= 3  # stable pseudonyms: one per person
    raw = b"".join(r.value for r in await read_topic(settings.kafka, settings.kafka.alerts_topic))
    raw += b"".join(r.value for r in await read_topic(settings.kafka, settings.kafka.scores_topic))
    assert b"realuser" not in raw and "用户".encode() not in raw
    redis = connect_redis(settings.redis)
    try:
        keys = [k.decode() for k in await redis.keys(f"{settings.redis.key_prefix}user:*")]
    finally:
        await redis.aclose()
    assert keys and not any("realuser" in k for k in keys)
    assert json.dumps(
        service.metrics.registry.get_sample_value(
            "lovelorn_alerts_total", {"sink": "redis", "outcome": "written"}
        )
    )
