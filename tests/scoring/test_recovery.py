"""Crash recovery (SIGKILL mid-stream) and hot model swap while running."""

from __future__ import annotations

import asyncio
import json
import signal
from pathlib import Path

from monitor.model import ModelRegistry
from monitor.schemas import Alert, alert_id, decode
from monitor.scoring.service import ScorerService
from monitor.settings import Settings
from monitor.store import Keys as RedisKeys
from monitor.store import Store, announce
from monitor.store import connect as connect_redis
from tests.fixtures import (
    TEXTS,
    copy_home,
    current_version,
    expected_alerts,
    fixture_examples,
    make_comment,
    produce_comments,
    read_topic,
    redis_alerts,
    scorer_env,
    scorer_settings,
    start_cli,
    train_tiny,
    wait_for,
)


async def test_sigkill_mid_stream_loses_nothing_and_duplicates_no_alert(
    stack: Settings, tiny_home: Path, tmp_path: Path
) -> None:
    settings = scorer_settings(stack, copy_home(tiny_home, tmp_path), max_batch=8)
    comments = [make_comment(i, TEXTS[i % len(TEXTS)]) for i in range(2000)]
    expected = expected_alerts(settings, comments)
    assert expected, "the model alerts on none of the texts: the test would prove nothing"
    await produce_comments(settings.kafka, comments)
    redis = connect_redis(settings.redis)
    stream = RedisKeys(settings.redis.key_prefix).stream
    log = tmp_path / "scorer.log"
    try:
        first = start_cli(["score"], scorer_env(settings), log)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 90
        while await redis.xlen(stream) < 10:
            assert first.poll() is None, log.read_text()[-3000:]
            assert loop.time() < deadline, "scorer produced no alerts"
            await asyncio.sleep(0.02)
        first.send_signal(signal.SIGKILL)
        first.wait()
        scored_at_kill = len(
            await read_topic(settings.kafka, settings.kafka.scores_topic, timeout_s=5)
        )
        assert scored_at_kill < len(comments), "the kill came too late to test anything"

        second = start_cli(["score"], scorer_env(settings), log)
        try:
            ids: set[str] = set()
            deadline = loop.time() + 120
            while ids != {c.comment_id for c in comments}:
                assert second.poll() is None, log.read_text()[-3000:]
                assert loop.time() < deadline, f"only {len(ids)} of {len(comments)} scored"
                await asyncio.sleep(1)
                ids = {
                    json.loads(r.value)["comment_id"]
                    for r in await read_topic(
                        settings.kafka, settings.kafka.scores_topic, timeout_s=5
                    )
                }
        finally:
            second.send_signal(signal.SIGTERM)
            assert second.wait(timeout=60) == 0, log.read_text()[-3000:]
    finally:
        await redis.aclose()

    in_redis = await redis_alerts(settings)
    version = current_version(settings)
    # exactly the expected alerts, each once (a sorted list keeps repeats visible)
    assert sorted(a.alert_id for a in in_redis) == sorted(alert_id(c, version) for c in expected)
    assert sorted(a.comment_id for a in in_redis) == sorted(expected)
    in_kafka = {
        decode(Alert, r.value).comment_id
        for r in await read_topic(settings.kafka, settings.kafka.alerts_topic)
    }
    assert in_kafka == set(expected)  # may hold repeats, never gaps


async def test_promotion_while_running_swaps_between_batches(
    stack: Settings, tiny_home: Path, tmp_path: Path
) -> None:
    settings = scorer_settings(stack, copy_home(tiny_home, tmp_path), emit_scores=True, max_batch=8)
    registry = ModelRegistry(settings.registry_root)
    v2 = train_tiny(
        settings, fixture_examples(tmp_path / "forty.tsv"), seed=11, promote=False
    ).manifest.version
    assert registry.current() == "v1" and v2 == "v2"

    service = ScorerService(
        settings, model_poll_s=30
    )  # the announcement, not polling, must trigger it
    stop = asyncio.Event()
    task = asyncio.create_task(service.run(stop))
    first = [make_comment(i, TEXTS[i % len(TEXTS)]) for i in range(300)]
    await produce_comments(settings.kafka, first)
    await wait_for(lambda: service.stats.scored >= 100 or task.done(), timeout_s=60)

    registry.promote(v2, margin=1, force=True)
    async with Store(settings.redis) as store:
        assert await announce(store, registry.history()[-1].model_dump_json()) >= 1
    second = [make_comment(1000 + i, TEXTS[i % len(TEXTS)]) for i in range(300)]
    await produce_comments(settings.kafka, second)
    await wait_for(lambda: service.stats.model_version == "v2" or task.done(), timeout_s=30)
    after_swap = [make_comment(2000 + i, TEXTS[i % len(TEXTS)]) for i in range(50)]
    await produce_comments(settings.kafka, after_swap)
    await wait_for(lambda: service.stats.scored >= 650 or task.done(), timeout_s=60)
    stop.set()
    await task

    scores = [
        json.loads(r.value) for r in await read_topic(settings.kafka, settings.kafka.scores_topic)
    ]
    by_id = {s["comment_id"]: s["model_version"] for s in scores}
    assert set(by_id) == {
        c.comment_id for c in first + second + after_swap
    }  # nothing lost at the swap
    assert {by_id[c.comment_id] for c in after_swap} == {"v2"}
    assert service.stats.swaps == 1
    versions_in_order = [s["model_version"] for s in scores]
    assert "v1" in versions_in_order and "v2" in versions_in_order
    expected_v2 = expected_alerts(settings, after_swap)  # v2 is current now
    assert expected_v2, "v2 alerts on none of the texts after the swap: nothing to check"
    after_swap_ids = {c.comment_id for c in after_swap}
    alerts = [a for a in await redis_alerts(settings) if a.comment_id in after_swap_ids]
    assert {a.model_version for a in alerts} == {"v2"}
    assert sorted(a.alert_id for a in alerts) == sorted(alert_id(c, "v2") for c in expected_v2)
