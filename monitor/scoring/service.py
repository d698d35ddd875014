"""The scorer: a Kafka consumer group that scores comments in micro-batches and delivers alerts.

    fetch loop ──► micro-batcher ──► score worker ──► deliver worker ──► offsets finished
       │  undecodable → dead-letter topic (then finished)      (Kafka sink, Redis sink)
       └─ every commit_interval_s: commit what is finished, per partition

At-least-once: an offset is committed only when its record and every record before it in
the partition has been scored and delivered to every sink (or dead-lettered). A crash
re-reads the uncommitted tail; alert ids are stable per (comment, model version), so Redis
drops the repeats and Kafka consumers can too.

Backpressure: at most ``max_inflight_batches`` batches are scored or delivered at once;
beyond that the fetch loop pauses its partitions (and keeps polling, so the group keeps
its membership). A sink that is down (SinkBackpressure) is retried with backoff, which
holds its batch in flight and so pauses fetching until the sink is back.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import numpy as np
import structlog

from monitor.bus import Consumer, Producer, Record, TopicPartition
from monitor.errors import BusError, SchemaError, SinkBackpressure
from monitor.metrics import Metrics
from monitor.redis_client import connect_redis
from monitor.registry import ModelRegistry
from monitor.retry import Backoff
from monitor.schemas import Comment, Score, decode, utcnow
from monitor.scoring.batcher import MicroBatcher, Pending
from monitor.scoring.model_watch import ModelWatcher
from monitor.scoring.offsets import OffsetTracker
from monitor.scoring.policies import AlertBuilder, Thresholds
from monitor.scoring.predictor import PaddlePredictor, Predictor
from monitor.settings import Settings
from monitor.sinks import KafkaSink, RedisSink, Sink

__all__ = ["ScorerService", "ScorerStats"]

log = structlog.get_logger()

DLQ_VALUE_LIMIT = 64 * 1024
DRAIN_TIMEOUT_S = 30.0


@dataclass
class _Batch:
    items: list[Pending[Comment]]
    generations: dict[TopicPartition, int]


@dataclass
class ScorerStats:
    """Counters for the live status line and for tests; Prometheus has the same and more."""

    records: int = 0
    scored: int = 0
    alerts: int = 0
    dead_letters: int = 0
    batches: int = 0
    last_batch_size: int = 0
    swaps: int = 0
    lag: dict[str, int] = field(default_factory=dict)
    model_version: str = ""


class ScorerService:
    def __init__(
        self,
        settings: Settings,
        *,
        load_predictor: Callable[[str], Awaitable[Predictor]] | None = None,
        metrics: Metrics | None = None,
        group_id: str | None = None,
        model_poll_s: float = 5.0,
    ) -> None:
        self.settings = settings
        self.metrics = metrics or Metrics()
        self.stats = ScorerStats()
        self._registry = ModelRegistry(settings.registry_root)
        self._load = load_predictor or self._load_paddle
        self._group_id = group_id or settings.kafka.consumer_group
        self._model_poll_s = model_poll_s
        self._alerts = AlertBuilder(settings.alerts)
        sc = settings.scorer
        self._batcher: MicroBatcher[Comment] = MicroBatcher(sc.max_batch, sc.max_wait_ms / 1000)
        self._offsets = OffsetTracker()
        self._generation: dict[TopicPartition, int] = {}
        self._inflight = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._score_q: asyncio.Queue[_Batch] = asyncio.Queue()
        self._deliver_q: asyncio.Queue[tuple[_Batch, np.ndarray, Predictor]] = asyncio.Queue()
        self._paused_by_us: set[TopicPartition] = set()
        self._consumer: Consumer | None = None
        self._producer: Producer | None = None
        self._sinks: list[Sink] = []
        self._predictor: Predictor | None = None
        self._watcher: ModelWatcher | None = None
        self._thresholds: dict[str, Thresholds] = {}
        self.ready = asyncio.Event()  # set once partitions are assigned
        self._register_metrics()

    # -- public --------------------------------------------------------------
    async def run(self, stop: asyncio.Event) -> None:
        """Consume until ``stop`` is set, then drain in-flight work and commit."""
        kafka = self.settings.kafka
        async with contextlib.AsyncExitStack() as stack:
            self._predictor = await self._load(self._registry.resolve(self.settings.scorer.model))
            stack.callback(lambda: self._predictor.close() if self._predictor else None)
            self.stats.model_version = self._predictor.version
            redis = connect_redis(
                self.settings.redis, retries=0
            )  # the sink retries with backoff itself
            stack.push_async_callback(redis.aclose)
            self._producer = Producer(kafka, client_id="lovelorn-scorer")
            await self._producer.start()
            stack.push_async_callback(self._producer.stop)
            self._sinks = [
                KafkaSink(kafka, self._producer, emit_scores=self.settings.scorer.emit_scores),
                RedisSink(
                    self.settings.redis, redis, cooldown_s=self.settings.alerts.user_cooldown_s
                ),
            ]
            self._consumer = Consumer(
                kafka,
                group_id=self._group_id,
                topics=[kafka.comments_topic],
                on_revoked=self._on_revoked,
                on_assigned=self._on_assigned,
                client_id="lovelorn-scorer",
            )
            await self._consumer.start()
            stack.push_async_callback(self._consumer.stop)
            tasks = [
                asyncio.create_task(self._score_worker(), name="score"),
                asyncio.create_task(self._deliver_worker(stop), name="deliver"),
            ]
            if self.settings.scorer.model == "current":
                self._watcher = ModelWatcher(
                    self._registry,
                    self._load,
                    redis,
                    self.settings.redis.key_prefix,
                    current_version=self._predictor.version,
                    poll_s=self._model_poll_s,
                )
                tasks.append(asyncio.create_task(self._watcher.run(), name="model-watch"))
            log.info(
                "scorer_started",
                group=self._group_id,
                topic=kafka.comments_topic,
                model=self._predictor.version,
                device=getattr(getattr(self._predictor, "device", None), "device", "n/a"),
            )
            try:
                await self._fetch_loop(stop, tasks)
                await self._drain(tasks)
            finally:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
                with contextlib.suppress(BusError):
                    await self._commit()
            log.info("scorer_stopped", scored=self.stats.scored, alerts=self.stats.alerts)

    # -- fetch side ----------------------------------------------------------
    async def _fetch_loop(self, stop: asyncio.Event, tasks: list[asyncio.Task[None]]) -> None:
        assert self._consumer is not None
        max_inflight = self.settings.scorer.max_inflight_batches
        next_commit = time.monotonic() + self.settings.scorer.commit_interval_s
        while not stop.is_set():
            for task in tasks:  # a worker that died must stop the service, not hang it
                if task.done() and not task.cancelled() and task.exception():
                    raise task.exception()  # type: ignore[misc]
            self._apply_backpressure(self._inflight >= max_inflight)
            timeout_ms = max(1, int(min(self._batcher.wait_s(), 0.5) * 1000))
            fetched = await self._consumer.getmany(
                timeout_ms=timeout_ms, max_records=self.settings.scorer.max_batch * 4
            )
            for records in fetched.values():
                for record in records:
                    await self._accept(record)
            while self._batcher.due() and self._inflight < max_inflight:
                self._submit(self._batcher.take())
            if time.monotonic() >= next_commit:
                await self._commit()
                next_commit = time.monotonic() + self.settings.scorer.commit_interval_s

    async def _accept(self, record: Record) -> None:
        self._offsets.started(record.tp, record.offset)
        self.stats.records += 1
        self._m_records.inc()
        try:
            comment = decode(Comment, record.value, max_bytes=self.settings.kafka.max_message_bytes)
            if not comment.text.strip():
                raise SchemaError("empty text after cleaning")
        except SchemaError as exc:
            await self._dead_letter(record, str(exc))
            return
        if len(comment.text) > self.settings.scorer.max_text_chars:
            comment = comment.model_copy(
                update={"text": comment.text[: self.settings.scorer.max_text_chars]}
            )
        self._batcher.add(record.tp, record.offset, comment)

    async def _dead_letter(self, record: Record, reason: str) -> None:
        assert self._producer is not None
        value = record.value or b""
        headers = [
            ("error", reason.encode()[:1000]),
            ("source_topic", record.topic.encode()),
            ("source_partition", str(record.partition).encode()),
            ("source_offset", str(record.offset).encode()),
        ]
        if len(value) > DLQ_VALUE_LIMIT:
            headers.append(("truncated_from", str(len(value)).encode()))
            value = value[:DLQ_VALUE_LIMIT]
        backoff = Backoff(base_s=0.5, cap_s=10)
        while True:
            try:
                await self._producer.send_and_wait(
                    self.settings.kafka.dead_letter_topic, value, key=record.key, headers=headers
                )
                break
            except BusError as exc:
                log.warning("dead_letter_retry", where=record.where, error=str(exc))
                await asyncio.sleep(backoff.next())
        log.warning("dead_lettered", where=record.where, reason=reason)
        self.stats.dead_letters += 1
        self._m_dead.inc()
        self._offsets.finished(record.tp, record.offset)

    def _submit(self, items: list[Pending[Comment]]) -> None:
        if not items:
            return
        self._inflight += 1
        self._idle.clear()
        gens = {p.tp: self._generation.get(p.tp, 0) for p in items}
        self._score_q.put_nowait(_Batch(items, gens))

    def _apply_backpressure(self, behind: bool) -> None:
        assert self._consumer is not None
        if behind:
            to_pause = self._consumer.assignment() - self._paused_by_us
            if to_pause:
                self._consumer.pause(to_pause)
                self._paused_by_us |= to_pause
                self._m_paused.set(1)
        elif self._paused_by_us:
            self._consumer.resume(self._paused_by_us & self._consumer.assignment())
            self._paused_by_us.clear()
            self._m_paused.set(0)

    # -- workers -------------------------------------------------------------
    async def _score_worker(self) -> None:
        while True:
            batch = await self._score_q.get()
            if self._watcher is not None and (fresh := self._watcher.take()) is not None:
                old, self._predictor = self._predictor, fresh
                self.stats.swaps += 1
                self.stats.model_version = fresh.version
                log.info(
                    "model_swapped", previous=old.version if old else None, version=fresh.version
                )
                if old is not None:
                    old.close()  # finishes its in-progress call first (single-thread executor)
            predictor = self._predictor
            assert predictor is not None
            started = time.perf_counter()
            probabilities = await predictor.predict([p.item.text for p in batch.items])
            self._m_infer.observe(time.perf_counter() - started)
            self._m_batch.observe(len(batch.items))
            self.stats.batches += 1
            self.stats.last_batch_size = len(batch.items)
            await self._deliver_q.put((batch, probabilities, predictor))

    async def _deliver_worker(self, stop: asyncio.Event) -> None:
        while True:
            batch, probabilities, predictor = await self._deliver_q.get()
            thresholds = self._thresholds_for(predictor)
            scores, alerts = [], []
            for pending, p in zip(batch.items, probabilities, strict=True):
                comment = pending.item
                score = float(p)
                scores.append(
                    Score(
                        comment_id=comment.comment_id,
                        post_id=comment.post_id,
                        user_id=self._alerts.user_ref(comment.user_id),
                        score=score,
                        model_version=predictor.version,
                        fetched_at=comment.fetched_at,
                    )
                )
                alert = self._alerts.build(comment, score, predictor.version, thresholds)
                if alert is not None:
                    alerts.append(alert)
            await self._write_all(alerts, scores, stop)
            now = utcnow()
            for alert in alerts:
                self._m_e2e.observe(max(0.0, (now - alert.fetched_at).total_seconds()))
            self.stats.scored += len(scores)
            self.stats.alerts += len(alerts)
            self._m_scored.inc(len(scores))
            for pending in batch.items:
                if self._generation.get(pending.tp, 0) == batch.generations[pending.tp]:
                    self._offsets.finished(pending.tp, pending.offset)
            self._inflight -= 1
            if self._inflight == 0:
                self._idle.set()

    async def _write_all(self, alerts: list, scores: list, stop: asyncio.Event) -> None:  # type: ignore[type-arg]
        """Every sink, each until it succeeds; a sink already done is not written again."""
        remaining = list(self._sinks)
        backoff = Backoff(base_s=0.5, cap_s=15)
        while remaining:
            sink = remaining[0]
            try:
                delivery = await sink.write(alerts, scores)
            except SinkBackpressure as exc:
                self._m_backpressure.labels(sink.name).inc()
                delay = max(exc.retry_after, backoff.next())
                log.warning(
                    "sink_unavailable", sink=sink.name, error=str(exc), retry_in_s=round(delay, 2)
                )
                await asyncio.sleep(delay)
                continue
            backoff.reset()
            remaining.pop(0)
            self._m_alerts.labels(sink.name, "written").inc(delivery.written)
            self._m_alerts.labels(sink.name, "duplicate").inc(delivery.duplicates)
            self._m_alerts.labels(sink.name, "suppressed").inc(delivery.suppressed)

    def _thresholds_for(self, predictor: Predictor) -> Thresholds:
        if predictor.version not in self._thresholds:
            self._thresholds[predictor.version] = Thresholds.from_manifest(
                predictor.manifest, self.settings.alerts
            )
        return self._thresholds[predictor.version]

    # -- commits and rebalances ---------------------------------------------
    async def _commit(self, only: set[TopicPartition] | None = None) -> None:
        if self._consumer is None:
            return
        assigned = self._consumer.assignment()
        offsets = {
            tp: o
            for tp, o in self._offsets.committable().items()
            if tp in assigned and (only is None or tp in only)
        }
        if offsets:
            try:
                await self._consumer.commit(offsets)
            except BusError as exc:
                log.warning("commit_failed", error=str(exc))
                return
            self._offsets.mark_committed(offsets)
        for tp in assigned:
            # Lag from the fetch high-water mark: the embedded broker's end_offsets() is wrong.
            highwater, committed = self._consumer.highwater(tp), self._offsets.committed(tp)
            if highwater is not None and committed is not None:
                lag = max(0, highwater - committed)
                self._m_lag.labels(tp.topic, str(tp.partition)).set(lag)
                self.stats.lag[f"{tp.topic}[{tp.partition}]"] = lag

    def _flush_batcher(self) -> None:
        """Submit everything the batcher holds, due or not, ignoring the in-flight bound."""
        while len(self._batcher):
            self._submit(self._batcher.take())

    async def _drain(self, tasks: list[asyncio.Task[None]]) -> None:
        """Score and deliver everything fetched so far, within DRAIN_TIMEOUT_S."""
        self._flush_batcher()
        try:
            await asyncio.wait_for(self._idle.wait(), DRAIN_TIMEOUT_S)
        except TimeoutError:
            log.warning("drain_timeout", inflight=self._inflight)

    async def _on_revoked(self, revoked: set[TopicPartition]) -> None:
        """Finish what we hold for these partitions (bounded), commit it, forget the rest."""
        self._flush_batcher()
        deadline = time.monotonic() + min(
            DRAIN_TIMEOUT_S, self.settings.kafka.session_timeout_ms / 2000
        )
        while any(self._offsets.pending(tp) for tp in revoked) and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.02)  # workers finish on their own; this only bounds the wait
        await self._commit(only=revoked)
        for tp in revoked:
            self._generation[tp] = self._generation.get(tp, 0) + 1
        self._offsets.drop(revoked)
        self._batcher.drop(revoked)
        self._paused_by_us -= revoked
        log.info(
            "partitions_revoked", partitions=sorted(f"{tp.topic}[{tp.partition}]" for tp in revoked)
        )

    async def _on_assigned(self, assigned: set[TopicPartition]) -> None:
        for tp in assigned:
            self._generation[tp] = self._generation.get(tp, 0) + 1
        if assigned:
            self.ready.set()
        log.info(
            "partitions_assigned",
            partitions=sorted(f"{tp.topic}[{tp.partition}]" for tp in assigned),
        )

    # -- plumbing ------------------------------------------------------------
    async def _load_paddle(self, version: str) -> Predictor:
        return await asyncio.to_thread(
            PaddlePredictor.from_registry, self._registry, self.settings.scorer, version
        )

    def _register_metrics(self) -> None:
        m = self.metrics
        self._m_records = m.counter("records_in", "Records fetched from the comments topic")
        self._m_scored = m.counter("comments_scored", "Comments scored and delivered")
        self._m_dead = m.counter("dead_letters", "Records sent to the dead-letter topic")
        self._m_batch = m.sizes("batch_size", "Comments per scored micro-batch")
        self._m_infer = m.latency("inference_seconds", "Model time per micro-batch")
        self._m_e2e = m.latency("end_to_end_seconds", "Alert emitted minus comment fetched")
        self._m_alerts = m.counter("alerts", "Alerts handled by each sink", ("sink", "outcome"))
        self._m_backpressure = m.counter(
            "sink_backpressure", "Sink write attempts that failed and were retried", ("sink",)
        )
        self._m_lag = m.gauge("lag", "Highwater minus committed offset", ("topic", "partition"))
        self._m_paused = m.gauge("fetch_paused", "1 while fetching is paused for backpressure")
