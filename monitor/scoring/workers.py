"""The work side of the scorer: micro-batches are scored, then delivered to every sink, in order.

Two tasks, each draining its queue: scoring runs the model (on the predictor's thread)
and swaps in a newly promoted model between batches; delivery first drops the comments
another record already decided (a comment the poller published twice: see
``monitor.store.decided`` for the first-position-wins rule), decides alerts, writes the
batch to every sink (each until it succeeds: a sink that is down holds its batch, which
keeps the in-flight count up and so pauses fetching), then to the console's review lane
(sampled non-alerts and the live score histogram, held the same way), and then marks the
batch's records finished for the checkpoint — the dropped duplicates too, with no output.
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
from monitor.model import Predictor
from monitor.retry import Retry
from monitor.schemas import Alert, Comment, Sampled, Score, utcnow
from monitor.scoring.batcher import Pending
from monitor.scoring.checkpoint import Checkpoint
from monitor.scoring.decider import Decider
from monitor.scoring.model_watch import ModelWatcher
from monitor.scoring.stats import ScorerMetrics, ScorerStats
from monitor.sinks import Sink
from monitor.store import CommentPosition, DecidedComments, ReviewLane

__all__ = ["Batch", "Workers"]

log = structlog.get_logger()


@dataclass
class Batch:
    items: list[Pending[Comment]]
    generations: dict[TopicPartition, int]

    def current(self, checkpoint: Checkpoint, pending: Pending[Comment]) -> bool:
        """Whether the record's partition is still ours under the generation it was fetched in."""
        return checkpoint.current(pending.tp, self.generations[pending.tp])


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
        decided: DecidedComments | None = None,
    ) -> None:
        """``decided`` drops comments published twice (the live scorer always has one);
        without it every record is delivered."""
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
        self._decided = decided
        self._claim_retry = Retry(
            "comment dedupe", base_s=0.5, cap_s=15, retry_on=(StoreUnavailable,)
        )
        self.duplicates = 0  # records dropped because another record owns their comment
        # per partition: the generation and the highest offset delivered in it
        self._delivered: dict[TopicPartition, tuple[int, int]] = {}
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
                if batch.current(self._checkpoint, pending)
            ]
            # only new records, and of those only the ones that own their comment's decision
            fresh = self._fresh(live, batch)
            owned = await self._claim([pending for pending, _ in fresh])
            mine = [(pending, p) for (pending, p), own in zip(fresh, owned, strict=True) if own]
            decided = self._decider.decide_all(
                [pending.item for pending, _ in mine], [p for _, p in mine], predictor.manifest
            )
            async with self._checkpoint.writing():
                # waiting for Redis or the lock, a rewind or revoke may have made work stale
                kept = [
                    d
                    for (pending, _), d in zip(mine, decided, strict=True)
                    if batch.current(self._checkpoint, pending)
                ]
                scores = [d.score for d in kept]
                alerts = [d.alert for d in kept if d.alert is not None]
                samples = [d.sample for d in kept if d.sample is not None]
                await self._write(alerts, scores)
                await self._write_lane(samples, scores)
                # every live record, the skipped ones too: finished, with no output
                self._finish([pending for pending, _ in live], batch)
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

    def _finish(self, done: list[Pending[Comment]], batch: Batch) -> None:
        for pending in done:
            if not batch.current(self._checkpoint, pending):
                continue
            generation = batch.generations[pending.tp]
            self._checkpoint.finished(pending.tp, pending.offset, generation)
            seen_in, high = self._delivered.get(pending.tp, (generation, -1))
            high = high if seen_in == generation else -1
            self._delivered[pending.tp] = (generation, max(high, pending.offset))

    def _fresh(
        self, live: list[tuple[Pending[Comment], float]], batch: Batch
    ) -> list[tuple[Pending[Comment], float]]:
        """The records not delivered before under the same generation: the owner of a comment
        is emitted again only after a rewind, a revocation or a crash (a new generation:
        see ``monitor.store.decided``), never twice into one transaction. A partition's
        records are delivered in offset order, so an offset at or below the highest one
        delivered, or one twice in this batch, is a second fetch (a seek while records were
        in flight), not new work."""
        fresh, seen = [], set()
        for pending, p in live:
            generation, high = self._delivered.get(pending.tp, (-1, -1))
            again = generation == batch.generations[pending.tp] and pending.offset <= high
            if not again and (pending.tp, pending.offset) not in seen:
                seen.add((pending.tp, pending.offset))
                fresh.append((pending, p))
        if len(fresh) < len(live):
            log.info("refetched_records_skipped", records=len(live) - len(fresh))
        return fresh

    async def _claim(self, items: list[Pending[Comment]]) -> list[bool]:
        """Which records own their comment's decision, until Redis answers (the batch is held
        meanwhile, like a sink's); the others are duplicates of a comment decided elsewhere."""
        if self._decided is None or not items:
            return [True] * len(items)
        decided = self._decided
        claims = [
            CommentPosition(p.item.comment_id, p.tp.topic, p.tp.partition, p.offset) for p in items
        ]
        owned = await self._claim_retry.call(  # Redis away: counted as the Redis sink's
            lambda: decided.claim(claims),
            on_failure=lambda _e: self._metrics.backpressure.labels("redis").inc(),
        )
        dropped = [c for c, own in zip(claims, owned, strict=True) if not own]
        if dropped:
            self.duplicates += len(dropped)
            log.info(
                "duplicate_comments_dropped",
                records=len(dropped),
                comments=[c.comment_id for c in dropped[:5]],
                at=[c.position for c in dropped[:5]],
            )
        return owned

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
