"""The work side of the scorer: micro-batches are scored, then delivered to every sink, in order.

Two tasks, each draining its queue: scoring runs the model (on the predictor's thread)
and swaps in a newly promoted model between batches; delivery decides alerts, writes the
batch to every sink (each until it succeeds: a sink that is down holds its batch, which
keeps the in-flight count up and so pauses fetching), then to the console's review lane
(sampled non-alerts and the live score histogram, held the same way), and then marks the
batch's records finished for the checkpoint.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import structlog

from monitor.bus import TopicPartition
from monitor.errors import SinkBackpressure, StoreUnavailable
from monitor.model.predictor import Predictor
from monitor.retry import Retry
from monitor.schemas import Alert, Comment, Score, utcnow
from monitor.scoring.batcher import Pending
from monitor.scoring.checkpoint import Checkpoint
from monitor.scoring.decider import Decider
from monitor.scoring.model_watch import ModelWatcher
from monitor.scoring.stats import ScorerMetrics, ScorerStats
from monitor.sinks import Sink
from monitor.store import ReviewLane, Sampled

__all__ = ["Batch", "Workers"]

log = structlog.get_logger()


@dataclass
class Batch:
    items: list[Pending[Comment]]
    generations: dict[TopicPartition, int]


class Workers:
    def __init__(
        self,
        predictor: Predictor,
        decider: Decider,
        sinks: Sequence[Sink],
        checkpoint: Checkpoint,
        *,
        watcher: ModelWatcher | None,
        stats: ScorerStats,
        metrics: ScorerMetrics,
        lane: ReviewLane | None = None,
    ) -> None:
        self.predictor = predictor
        self._decider = decider
        self._sinks = list(sinks)
        self._checkpoint = checkpoint
        self._watcher = watcher
        self._stats = stats
        self._metrics = metrics
        self._score_q: asyncio.Queue[Batch] = asyncio.Queue()
        self._deliver_q: asyncio.Queue[tuple[Batch, np.ndarray, Predictor]] = asyncio.Queue()
        self.inflight = 0
        self.idle = asyncio.Event()
        self.idle.set()
        self._retries = {
            sink.name: Retry(
                f"{sink.name} sink", base_s=0.5, cap_s=15, retry_on=(SinkBackpressure,)
            )
            for sink in self._sinks
        }
        self._lane = lane
        self._lane_retry = Retry("review lane", base_s=0.5, cap_s=15, retry_on=(StoreUnavailable,))
        self._serving(predictor)

    def submit(self, items: list[Pending[Comment]]) -> None:
        if not items:
            return
        self.inflight += 1
        self.idle.clear()
        generations = {p.tp: self._checkpoint.generation(p.tp) for p in items}
        self._score_q.put_nowait(Batch(items, generations))

    def tasks(self) -> list[asyncio.Task[None]]:
        return [
            asyncio.create_task(self._score_loop(), name="score"),
            asyncio.create_task(self._deliver_loop(), name="deliver"),
        ]

    async def _score_loop(self) -> None:
        while True:
            batch = await self._score_q.get()
            if self._watcher is not None and (fresh := self._watcher.take()) is not None:
                old = self.predictor
                self._serving(fresh)
                self._stats.swaps += 1
                log.info("model_swapped", previous=old.version, version=fresh.version)
                old.close()  # finishes its in-progress call first (single-thread executor)
            predictor = self.predictor
            started = time.perf_counter()
            probabilities = await predictor.predict([p.item.text for p in batch.items])
            self._metrics.infer.observe(time.perf_counter() - started)
            self._metrics.batch.observe(len(batch.items))
            self._stats.batches += 1
            self._stats.last_batch_size = len(batch.items)
            await self._deliver_q.put((batch, probabilities, predictor))

    async def _deliver_loop(self) -> None:
        while True:
            batch, probabilities, predictor = await self._deliver_q.get()
            # work of a partition that changed hands (or was rewound) is someone else's now
            live = [
                (pending, p)
                for pending, p in zip(batch.items, probabilities, strict=True)
                if self._checkpoint.current(pending.tp, batch.generations[pending.tp])
            ]
            decisions = self._decider.decide_all(
                [pending.item for pending, _ in live], [p for _, p in live], predictor.manifest
            )
            scores = [d.score for d in decisions]
            alerts = [d.alert for d in decisions if d.alert is not None]
            samples = [d.sample for d in decisions if d.sample is not None]
            async with self._checkpoint.writing():
                await self._write(alerts, scores)
                await self._write_lane(samples, scores)
                for pending, _ in live:
                    self._checkpoint.finished(
                        pending.tp, pending.offset, batch.generations[pending.tp]
                    )
                # counted with the offsets, so a snapshot taken at a commit is exact
                self._stats.scored += len(scores)
                self._stats.alerts += len(alerts)
                self._metrics.scored.inc(len(scores))
            now = utcnow()
            for alert in alerts:
                self._metrics.e2e.observe(max(0.0, (now - alert.fetched_at).total_seconds()))
            self.inflight -= 1
            if self.inflight == 0:
                self.idle.set()

    async def _write(self, alerts: list[Alert], scores: list[Score]) -> None:
        """Every sink in order, each until it succeeds (sinks are idempotent per batch)."""
        for sink in self._sinks:
            delivery = await self._retries[sink.name].call(
                lambda sink=sink: sink.write(alerts, scores),
                on_failure=lambda _e, name=sink.name: self._metrics.backpressure.labels(name).inc(),
            )
            self._metrics.alerts.labels(sink.name, "written").inc(delivery.written)
            self._metrics.alerts.labels(sink.name, "duplicate").inc(delivery.duplicates)
            self._metrics.alerts.labels(sink.name, "suppressed").inc(delivery.suppressed)

    async def _write_lane(self, samples: list[Sampled], scores: list[Score]) -> None:
        """The review lane, until it succeeds (idempotent per sample, like the sinks)."""
        if self._lane is None or not scores:
            return
        lane = self._lane
        written = await self._lane_retry.call(
            lambda: lane.write(samples, scores),
            on_failure=lambda _e: self._metrics.backpressure.labels("review_lane").inc(),
        )
        self._stats.samples += written
        self._metrics.samples.inc(written)

    def _serving(self, predictor: Predictor) -> None:
        self.predictor = predictor
        self._stats.model_version = predictor.version
        self._metrics.model.clear()
        self._metrics.model.labels(predictor.version).set(1)
