"""Bad records are dead-lettered with the reason and source offset; the partition keeps moving."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path

from monitor.bus import Producer
from monitor.bus.dead_letters import DLQ_VALUE_LIMIT
from monitor.schemas import encode
from monitor.scoring.service import ScorerService
from monitor.settings import Settings
from tests.fixtures import (
    LOVELORN,
    make_comment,
    read_topic,
    scorer_settings,
    wait_for,
)


async def test_bad_records_go_to_the_dead_letter_topic(stack: Settings, tiny_home: Path) -> None:
    settings = scorer_settings(stack, tiny_home, emit_scores=True)
    big_producer = settings.kafka.model_copy(update={"max_message_bytes": 4_000_000})
    huge_text = make_comment(
        900, "分手" + "a" * 400_000
    )  # 0.8 MB message: accepted, text cut for scoring
    too_big = make_comment(
        901, "失恋" * 170_000
    )  # a 1 MB text: a 2 MB message, over the 1 MB limit
    empty_after_cleaning = encode(make_comment(902, "<br/> <img src=x>"))
    too_big_value = encode(too_big)
    bad = [
        b"{not json",
        json.dumps({"comment_id": "x1", "text_raw": "缺少字段"}).encode(),
        empty_after_cleaning,
        b"",
    ]
    # every bad value and the reason its dead letter must give
    expected_reason: dict[bytes, Callable[[str], bool]] = {
        bad[0]: lambda r: r.startswith("not JSON"),
        bad[1]: lambda r: r.startswith("invalid Comment: post_id"),
        too_big_value: lambda r: "exceeds the 1048576-byte limit" in r,
        empty_after_cleaning: lambda r: r == "empty text after cleaning",
        b"": lambda r: r.startswith(("not JSON", "empty record")),
    }
    good = [make_comment(i, LOVELORN[i % len(LOVELORN)]) for i in range(20)]
    async with Producer(big_producer) as producer:
        for value in bad[:2]:
            await producer.send_and_wait(settings.kafka.comments_topic, value, key=b"p1")
        await producer.send_and_wait(settings.kafka.comments_topic, encode(huge_text), key=b"p1")
        await producer.send_and_wait(settings.kafka.comments_topic, too_big_value, key=b"p1")
        for value in bad[2:]:
            await producer.send_and_wait(settings.kafka.comments_topic, value, key=b"p1")
        for c in good:
            await producer.send_and_wait(settings.kafka.comments_topic, encode(c), key=b"p1")

    service = ScorerService(settings)
    stop = asyncio.Event()
    task = asyncio.create_task(service.run(stop))
    await wait_for(
        lambda: (service.stats.scored >= 21 and service.stats.dead_letters >= 5) or task.done(),
        timeout_s=60,
    )
    stop.set()
    await task

    # where each bad record landed, read back from the comments topic itself
    sources = {
        (r.partition, r.offset): r
        for r in await read_topic(big_producer, settings.kafka.comments_topic)
        if (r.value or b"") in expected_reason
    }
    assert len(sources) == 5, sorted(sources)

    dead = await read_topic(settings.kafka, settings.kafka.dead_letter_topic)
    reasons = [dict(r.headers)["error"].decode() for r in dead]
    assert len(dead) == 5, reasons
    positions = []
    for r in dead:
        headers = dict(r.headers)
        assert headers["source_topic"].decode() == settings.kafka.comments_topic
        position = (int(headers["source_partition"]), int(headers["source_offset"]))
        positions.append(position)
        assert position in sources, (position, sorted(sources))
        source_value = sources[position].value or b""
        reason = headers["error"].decode()
        assert expected_reason[source_value](reason), (position, source_value[:40], reason)
        assert r.value == source_value[:DLQ_VALUE_LIMIT]  # the record itself, cut at 64 KB
    assert sorted(positions) == sorted(sources)  # each bad record once, no good one
    oversized = next(r for r in dead if "truncated_from" in dict(r.headers))
    assert int(dict(oversized.headers)["truncated_from"]) == len(too_big_value)
    assert len(oversized.value) == DLQ_VALUE_LIMIT

    scored = {
        json.loads(r.value)["comment_id"]
        for r in await read_topic(settings.kafka, settings.kafka.scores_topic)
    }
    assert scored == {c.comment_id for c in good} | {"c900"}
