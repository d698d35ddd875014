"""The delivery rules that keep one comment to one output, with fakes (no broker, no Redis):
a record fetched twice in one generation is delivered once, again after its generation
changed (a rewind: its earlier output was aborted), and a record that does not own its
comment's decision is finished with no output at all."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence

from monitor.bus import TopicPartition
from monitor.metrics import Metrics
from monitor.schemas import Alert, Score
from monitor.scoring.batcher import Pending
from monitor.scoring.decider import Decider
from monitor.scoring.stats import ScorerMetrics, ScorerStats
from monitor.scoring.workers import Workers
from monitor.settings import AlertSettings
from monitor.sinks.base import Delivery
from monitor.store import CommentPosition
from tests.fixtures import LOVELORN, make_comment, make_manifest
from tests.scoring.word_model import WordModel

TP = TopicPartition("comments", 0)


class FakeCheckpoint:
    def __init__(self) -> None:
        self.generations: dict[TopicPartition, int] = {}
        self.finished_offsets: list[int] = []

    def generation(self, tp: TopicPartition) -> int:
        return self.generations.get(tp, 0)

    def current(self, tp: TopicPartition, generation: int) -> bool:
        return self.generation(tp) == generation

    def finished(self, tp: TopicPartition, offset: int, generation: int) -> None:
        if self.current(tp, generation):
            self.finished_offsets.append(offset)

    @contextlib.asynccontextmanager
    async def writing(self) -> AsyncIterator[None]:
        yield


class RecordingSink:
    name = "recording"

    def __init__(self) -> None:
        self.scores: list[str] = []

    async def write(self, alerts: Sequence[Alert], scores: Sequence[Score]) -> Delivery:
        self.scores += [s.comment_id for s in scores]
        return Delivery(self.name)


class OwnerOfEven:
    """Stands in for ``DecidedComments``: records at even offsets own their comment."""

    async def claim(self, claims: Sequence[CommentPosition]) -> list[bool]:
        return [c.offset % 2 == 0 for c in claims]


def _workers(decided: object = None) -> tuple[Workers, FakeCheckpoint, RecordingSink]:
    checkpoint, sink = FakeCheckpoint(), RecordingSink()
    workers = Workers(
        WordModel(make_manifest()),  # type: ignore[arg-type]
        Decider(AlertSettings(), max_text_chars=500),
        [sink],
        checkpoint,  # type: ignore[arg-type]
        watcher=None,
        stats=ScorerStats(),
        metrics=ScorerMetrics(Metrics()),
        decided=decided,  # type: ignore[arg-type]
    )
    return workers, checkpoint, sink


async def _deliver(workers: Workers, offsets: list[int]) -> None:
    workers.submit([Pending(TP, o, make_comment(o, LOVELORN[o % 20])) for o in offsets])
    await asyncio.wait_for(workers.idle.wait(), 10)


async def test_a_record_fetched_twice_in_one_generation_is_delivered_once() -> None:
    workers, checkpoint, sink = _workers()
    tasks = workers.tasks()
    try:
        await _deliver(workers, [5, 6, 6])  # 6 twice in one batch
        await _deliver(workers, [5, 6, 7])  # 5 and 6 again (a seek while in flight)
        assert sink.scores == ["c5", "c6", "c7"]
        checkpoint.generations[TP] = 1  # rewound: the earlier output was aborted
        await _deliver(workers, [5, 6])
        assert sink.scores == ["c5", "c6", "c7", "c5", "c6"]
        assert sorted(checkpoint.finished_offsets) == [5, 5, 5, 6, 6, 6, 6, 7]
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def test_a_record_that_does_not_own_its_comment_is_finished_with_no_output() -> None:
    workers, checkpoint, sink = _workers(OwnerOfEven())
    tasks = workers.tasks()
    try:
        await _deliver(workers, [2, 3, 4, 5])
        assert sink.scores == ["c2", "c4"]
        assert sorted(checkpoint.finished_offsets) == [2, 3, 4, 5]  # the offsets move on
        assert workers.duplicates == 2
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
