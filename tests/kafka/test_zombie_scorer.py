"""A zombie scorer cannot double anything (issue 25, item 2), on Apache Kafka.

Two ``lovelorn score`` processes share a group with exactly-once on. One is frozen
(SIGSTOP) with its transaction most likely open, for longer than the session timeout; the
other takes its partition over — opening that partition's transactional producer, which
fences the frozen one — and goes on scoring; then the frozen one is resumed (SIGCONT).
aiokafka's TxnOffsetCommit v0 cannot fence it by group generation, so before the fix it
committed its stale transaction on resume: read_committed readers saw alerts and scores
twice and its older offsets could overwrite the new owner's. Now: every alert and every
score once, committed offsets sampled all along never move backwards, and the resumed
scorer logs that it lost the partition instead of committing.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
from collections import Counter
from itertools import pairwise
from pathlib import Path

from monitor.bus import Consumer, Producer, TopicPartition, ensure_topics
from monitor.bus.admin import topics_for
from monitor.schemas import Alert, Score, decode, encode
from monitor.settings import KafkaSettings, Settings
from tests.fixtures import (
    TEXTS,
    copy_home,
    expected_alerts,
    make_comment,
    produce_comments,
    redis_alerts,
    scorer_env,
    scorer_settings,
    start_cli,
)
from tests.kafka.conftest import on_kafka

FIRST, TRICKLE = 160, 240  # comments before the pause, and trickled in across it
PAUSE_S = 15.0  # 2.5 session timeouts


def assigned(log: Path) -> list[str] | None:
    """The partitions of the scorer's latest assignment, None before the first."""
    latest = None
    for line in log.read_text(errors="replace").splitlines():
        if '"partitions_assigned"' in line:
            latest = json.loads(line[line.index("{") :])["partitions"]
    return latest


async def read_all(kafka: KafkaSettings, topic: str) -> list:  # type: ignore[type-arg]
    """Every record a read_committed consumer sees, up to the topic's (stable) end."""
    async with Consumer(kafka, group_id=None, read_committed=True) as consumer:
        tps = await consumer.partitions(topic)
        consumer.assign(tps)
        await consumer.seek_to_beginning(tps)
        ends = await consumer.end_offsets(tps)
        records: list = []  # type: ignore[type-arg]
        while [tp for tp, end in ends.items() if await consumer.position(tp) < end]:
            for batch in (await consumer.getmany(timeout_ms=500)).values():
                records.extend(batch)
        return records


class OffsetWatch:
    """Samples the group's committed offsets (as the broker stores them) every 100 ms."""

    def __init__(self, kafka: KafkaSettings) -> None:
        self.kafka = kafka
        self.samples: dict[TopicPartition, list[int]] = {}

    async def run(self, stop: asyncio.Event) -> None:
        tps = [TopicPartition(self.kafka.comments_topic, p) for p in range(self.kafka.partitions)]
        async with Consumer(self.kafka, group_id=self.kafka.consumer_group) as consumer:
            while not stop.is_set():
                for tp in tps:
                    offset = await consumer.committed(tp)  # not a member: only reads
                    if offset is not None:
                        self.samples.setdefault(tp, []).append(offset)
                await asyncio.sleep(0.1)

    def backwards(self) -> list[str]:
        return [
            f"{tp.topic}[{tp.partition}]: {a} after {b}"
            for tp, seen in self.samples.items()
            for b, a in pairwise(seen)
            if a < b
        ]


async def trickle(kafka: KafkaSettings, comments: list, per_s: float) -> None:  # type: ignore[type-arg]
    async with Producer(kafka) as producer:
        for comment in comments:
            await producer.send_and_wait(
                kafka.comments_topic, encode(comment), key=comment.post_id.encode()
            )
            await asyncio.sleep(1 / per_s)


async def test_a_paused_scorer_is_fenced_and_doubles_nothing(
    services: Settings,
    kafka_node,  # type: ignore[no-untyped-def]
    tiny_home: Path,
    tmp_path: Path,
) -> None:
    base = on_kafka(
        services,
        kafka_node.bootstrap_servers,
        exactly_once=True,
        transactional_id=f"lovelorn-zombie-{os.getpid()}",
        transaction_timeout_ms=60000,  # longer than the pause: the new owner must fence it
    )
    # commits once a second: a scorer frozen while busy almost surely has a transaction open
    settings = scorer_settings(
        base, copy_home(tiny_home, tmp_path), max_batch=8, commit_interval_s=1.0
    )
    kafka = settings.kafka
    await ensure_topics(kafka, topics_for(kafka))
    comments = [
        make_comment(i, TEXTS[i % len(TEXTS)], post=f"p{i % 16}") for i in range(FIRST + TRICKLE)
    ]  # 16 posts: both partitions get comments
    expected = expected_alerts(settings, comments)
    assert 0 < len(expected) < len(comments)
    await produce_comments(kafka, comments[:FIRST])

    logs = [tmp_path / "zombie.log", tmp_path / "other.log"]
    procs: list[subprocess.Popen[bytes]] = []
    watch, done = OffsetWatch(kafka), asyncio.Event()
    watcher = asyncio.create_task(watch.run(done))
    loop = asyncio.get_running_loop()
    feeding: asyncio.Task[None] | None = None

    def tail(i: int) -> str:
        return logs[i].read_text(errors="replace")[-4000:]

    async def until(condition, what: str, timeout_s: float) -> None:  # type: ignore[no-untyped-def]
        deadline = loop.time() + timeout_s
        while not await condition():
            for i, proc in enumerate(procs):
                assert proc.poll() is None, (
                    f"scorer {i} exited while waiting for {what}:\n{tail(i)}"
                )
            assert loop.time() < deadline, f"no {what} in {timeout_s} s:\n{tail(0)}\n{tail(1)}"
            await asyncio.sleep(0.3)

    async def both_own_a_partition() -> bool:
        return all(assigned(log) for log in logs)

    try:
        procs.append(start_cli(["score"], scorer_env(settings), logs[0]))
        await until(lambda: _true(assigned(logs[0])), "first assignment", 120)
        procs.append(start_cli(["score"], scorer_env(settings), logs[1]))
        await until(both_own_a_partition, "split assignment", 120)
        zombie_partition = assigned(logs[0])
        feeding = asyncio.create_task(trickle(kafka, comments[FIRST:], per_s=TRICKLE / 30))
        await asyncio.sleep(3)  # both busy with the trickle

        procs[0].send_signal(signal.SIGSTOP)
        await asyncio.sleep(PAUSE_S)  # the other takes over (and fences) after ~6 s
        other_took = assigned(logs[1])
        procs[0].send_signal(signal.SIGCONT)
        assert zombie_partition[0] in (other_took or []), tail(1)

        await feeding

        async def every_score_committed() -> bool:
            scores = await read_all(kafka, kafka.scores_topic)
            return len({decode(Score, r.value).comment_id for r in scores}) == len(comments)

        await until(every_score_committed, "committed score of every comment", 240)
        await asyncio.sleep(2.5)  # a commit or two more, sampled by the watch
        for i, proc in enumerate(procs):
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=60) == 0, tail(i)
    finally:
        done.set()
        await watcher
        if feeding is not None and not feeding.done():
            feeding.cancel()
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGCONT)
                proc.kill()
                proc.wait()

    alerts = [decode(Alert, r.value) for r in await read_all(kafka, kafka.alerts_topic)]
    doubled = {k: n for k, n in Counter(a.alert_id for a in alerts).items() if n > 1}
    assert not doubled, f"read_committed readers saw {len(doubled)} alerts twice"
    assert sorted(a.comment_id for a in alerts) == sorted(expected)
    scores = [decode(Score, r.value) for r in await read_all(kafka, kafka.scores_topic)]
    twice = {k: n for k, n in Counter(s.comment_id for s in scores).items() if n > 1}
    assert not twice, f"{len(twice)} comments have more than one committed score"
    assert len(scores) == len(comments)

    assert watch.samples and not watch.backwards(), watch.backwards()
    ends = await _ends(kafka)
    assert {tp: seen[-1] for tp, seen in watch.samples.items()} == ends  # everything committed
    in_redis = await redis_alerts(settings)
    assert sorted(a.comment_id for a in in_redis) == sorted(expected)
    zombie_log = logs[0].read_text(errors="replace")
    assert '"partition_lost"' in zombie_log, "the resumed scorer was never fenced:\n" + tail(0)


async def _true(value: object) -> bool:
    return bool(value)


async def _ends(kafka: KafkaSettings) -> dict[TopicPartition, int]:
    async with Consumer(kafka, group_id=None) as consumer:
        tps = await consumer.partitions(kafka.comments_topic)
        return await consumer.end_offsets(tps)
