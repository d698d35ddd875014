"""A poller that crashed between the broker's ack and marking ids seen publishes comments
twice; with exactly-once on Apache Kafka, each comment still yields one score and at most
one alert for read_committed readers, and one alert in Redis — also when the scorer is
SIGKILLed mid-stream and restarted (issue 25, item 3)."""

from __future__ import annotations

import asyncio
import signal
from collections import Counter
from pathlib import Path

from monitor.bus.admin import prepare_topics
from monitor.schemas import Alert, Score, decode
from monitor.settings import Settings
from tests.fixtures import (
    TEXTS,
    copy_home,
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


async def test_comments_published_twice_yield_one_record_each_for_read_committed_readers(
    services: Settings,
    kafka_node,  # type: ignore[no-untyped-def]
    tiny_home: Path,
    tmp_path: Path,
) -> None:
    base = on_kafka(services, kafka_node.bootstrap_servers, exactly_once=True)
    settings = scorer_settings(base, copy_home(tiny_home, tmp_path), max_batch=8)
    await prepare_topics(settings.kafka)
    comments = [make_comment(i, TEXTS[i % len(TEXTS)], post=f"p{i % 8}") for i in range(240)]
    expected = expected_alerts(settings, comments)
    assert 20 <= len(expected) < len(comments), "the model must alert on some, not all"
    # every comment twice, the copy 40 records later: both copies in flight at once, or the
    # copy read after the original was committed
    stream = [*comments[:40]]
    for i in range(40, 240):
        stream += [comments[i], comments[i - 40]]
    stream += comments[200:]
    await produce_comments(settings.kafka, stream)

    log = tmp_path / "score.log"
    first = start_cli(["score"], scorer_env(settings), log)
    loop = asyncio.get_running_loop()
    try:
        deadline = loop.time() + 180
        while len(await redis_alerts(settings)) < len(expected) // 3:
            assert first.poll() is None and loop.time() < deadline, log.read_text()[-3000:]
            await asyncio.sleep(0.2)
        first.send_signal(signal.SIGKILL)  # mid-transaction, most likely
        first.wait()
        second = start_cli(["score"], scorer_env(settings), log)
        try:
            deadline = loop.time() + 240
            while True:
                scores = await read_topic(
                    settings.kafka, settings.kafka.scores_topic, timeout_s=3, read_committed=True
                )
                if len({decode(Score, r.value).comment_id for r in scores}) == len(comments):
                    break
                assert second.poll() is None and loop.time() < deadline, log.read_text()[-3000:]
                await asyncio.sleep(1)
        finally:
            second.send_signal(signal.SIGTERM)
            assert second.wait(timeout=60) == 0, log.read_text()[-3000:]
    finally:
        if first.poll() is None:
            first.kill()

    kafka = settings.kafka
    scores = await read_topic(kafka, kafka.scores_topic, timeout_s=5, read_committed=True)
    per_comment = Counter(decode(Score, r.value).comment_id for r in scores)
    assert sorted(per_comment) == sorted(c.comment_id for c in comments)
    assert set(per_comment.values()) == {1}, per_comment.most_common(3)
    alerts = await read_topic(kafka, kafka.alerts_topic, timeout_s=5, read_committed=True)
    assert sorted(decode(Alert, r.value).comment_id for r in alerts) == sorted(expected)
    assert sorted(a.comment_id for a in await redis_alerts(settings)) == sorted(expected)
