"""A second scorer shares the load (issue 25, item 6): on topics created from the settings
(``kafka.partitions``), two members of one group each get partitions and each score part of
the stream, every comment once. Throughput of the pair: ``bench/scorer_pair.py``."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

from monitor.bus.admin import partition_counts, prepare_topics
from monitor.schemas import Score, decode
from monitor.scoring.service import ScorerService
from monitor.settings import Settings
from tests.fixtures import (
    TEXTS,
    make_comment,
    produce_comments,
    read_topic,
    scorer_settings,
    wait_for,
)
from tests.scoring.word_model import word_registry


async def test_two_scorers_both_get_partitions_and_share_the_stream(
    stack: Settings, tmp_path: Path
) -> None:
    base = scorer_settings(stack, tmp_path, emit_scores=True)
    kafka = base.kafka.model_copy(
        update={
            "partitions": 4,
            **{
                name: f"{getattr(base.kafka, name)}-wide"
                for name in ("comments_topic", "alerts_topic", "scores_topic", "dead_letter_topic")
            },
        }
    )
    settings = base.model_copy(update={"kafka": kafka})
    await prepare_topics(kafka)
    assert set((await partition_counts(kafka, [kafka.comments_topic])).values()) == {4}

    load = word_registry(tmp_path)
    first, second = (ScorerService(settings, load_predictor=load) for _ in range(2))
    stop = asyncio.Event()
    tasks = [asyncio.create_task(first.run(stop))]
    try:
        await wait_for(lambda: first.ready.is_set() or tasks[0].done(), timeout_s=60)
        tasks.append(asyncio.create_task(second.run(stop)))
        await wait_for(lambda: second.ready.is_set() or tasks[1].done(), timeout_s=60)
        await asyncio.sleep(1.0)  # the first member's side of the rebalance settles
        comments = [make_comment(i, TEXTS[i % len(TEXTS)], post=f"p{i % 16}") for i in range(400)]
        await produce_comments(kafka, comments)
        await wait_for(
            lambda: first.stats.scored + second.stats.scored >= 400 or any(t.done() for t in tasks),
            timeout_s=90,
        )
        await asyncio.sleep(0.6)  # a few commit intervals
        owned = [set(s.checkpoint.committed()) for s in (first, second)]
    finally:
        stop.set()
        await asyncio.gather(*tasks)

    assert first.stats.scored > 0 and second.stats.scored > 0, (
        first.stats.scored,
        second.stats.scored,
    )
    assert owned[0] and owned[1] and not owned[0] & owned[1], owned
    assert len(owned[0] | owned[1]) == 4
    scores = Counter(
        decode(Score, r.value).comment_id for r in await read_topic(kafka, kafka.scores_topic)
    )
    assert sorted(scores) == sorted(c.comment_id for c in comments)
    assert set(scores.values()) == {1}
