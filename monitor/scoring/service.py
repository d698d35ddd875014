"""The scorer: a Kafka consumer group member that scores comments in micro-batches and
delivers alerts. This module only wires the parts together and runs the loop:

    Intake ──► MicroBatcher ──► Workers (score → decide → every sink) ──► Checkpoint
      │ undecodable → DeadLetters                                            │
      └─────────────── every commit_interval_s: Checkpoint.commit() ◄─────────┘

At-least-once: an offset is committed only when its record and every record before it in
the partition was delivered to every sink (or dead-lettered); alert ids are stable per
(comment, model version), so Redis drops repeats after a crash and Kafka consumers can
too. One shared producer (idempotent if configured) writes everything.

Exactly-once (``kafka.exactly_once``, Apache Kafka only): one transactional producer per
assigned input partition (``monitor.bus.transactions``), opened on assignment and closed on
revocation; each partition's alerts, scores, dead letters and consumed offset commit in
that partition's transaction, and a scorer that was paused past its session and resumed
is fenced by the new owner. read_committed consumers see each alert once.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable

import structlog

from monitor.bus import Consumer, PartitionProducers, Producer, TopicPartition
from monitor.errors import BusError
from monitor.metrics import Metrics
from monitor.model import Predictor, open_predictor, registry_for
from monitor.retry import Retry, Stopped
from monitor.schemas import Comment
from monitor.scoring.batcher import MicroBatcher
from monitor.scoring.checkpoint import Checkpoint
from monitor.scoring.decider import Decider
from monitor.scoring.intake import Intake
from monitor.scoring.model_watch import ModelWatcher
from monitor.scoring.stats import ScorerMetrics, ScorerStats
from monitor.scoring.workers import Workers
from monitor.settings import Settings
from monitor.sinks import KafkaSink, RedisSink, Sink
from monitor.sinks.webhook import WebhookSink
from monitor.store import DecidedComments, ReviewLane, Store

__all__ = ["ScorerService", "ScorerStats"]

log = structlog.get_logger()
DRAIN_TIMEOUT_S = 30.0
ASSIGN_TIMEOUT_S = 60.0  # opening a partition's producer: longer ends the scorer


class ScorerService:
    def __init__(
        self,
        settings: Settings,
        *,
        load_predictor: Callable[[str], Awaitable[Predictor]] | None = None,
        metrics: Metrics | None = None,
        group_id: str | None = None,
        model_poll_s: float = 5.0,
        after_commit: Callable[[], None] | None = None,
    ) -> None:
        self.settings = settings
        self.stats = ScorerStats()
        self.metrics = metrics or Metrics()
        self._metrics = ScorerMetrics(self.metrics)
        self._registry = registry_for(settings)
        self._load = load_predictor or self._load_paddle
        self._group_id = group_id or settings.kafka.consumer_group
        self._model_poll_s = model_poll_s
        self._after_commit = after_commit
        self.ready = asyncio.Event()  # set once partitions are assigned
        self._workers: Workers | None = None
        self._failure: BaseException | None = None  # raised by the loop (set in a rebalance)
        self._stop = asyncio.Event()

    async def run(self, stop: asyncio.Event) -> None:
        """Consume until ``stop`` is set, then drain in-flight work and commit."""
        kafka, sc = self.settings.kafka, self.settings.scorer
        self._stop = stop
        kafka_retry = Retry("Kafka", base_s=1.0, cap_s=30.0, retry_on=(BusError,))
        async with contextlib.AsyncExitStack() as stack:
            predictor = await self._load(self._registry.resolve(sc.model))
            # the predictor being served when we stop (a swap may have replaced this one)
            stack.callback(
                lambda: (self._workers.predictor if self._workers else predictor).close()
            )
            store = Store(self.settings.redis)
            stack.push_async_callback(store.aclose)
            producer: Producer | None = None
            transactions: PartitionProducers | None = None
            if kafka.exactly_once:  # per input partition, opened as partitions are assigned
                transactions = PartitionProducers(kafka, group_id=self._group_id)
                stack.push_async_callback(transactions.aclose)
            else:
                producer = Producer(kafka, client_id="lovelorn-scorer")
                await kafka_retry.call(producer.start, stop=stop)
                stack.push_async_callback(producer.stop)
            consumer = Consumer(
                kafka,
                group_id=self._group_id,
                topics=[kafka.comments_topic],
                on_revoked=self._on_revoked,
                on_assigned=self._on_assigned,
                client_id="lovelorn-scorer",
                read_committed=kafka.exactly_once,
            )
            decider = Decider(
                self.settings.alerts,
                max_text_chars=sc.max_text_chars,
                review_sample_rate=sc.review_sample_rate,
            )
            self.checkpoint = Checkpoint(
                consumer,
                producer,
                transactions=transactions,
                group_id=self._group_id,
                interval_s=sc.commit_interval_s,
                after_commit=self._after_commit,
                on_rewind=lambda tps: self._intake.forget(tps),
            )
            self._batcher: MicroBatcher[Comment] = MicroBatcher(sc.max_batch, sc.max_wait_ms / 1000)
            watcher = (
                ModelWatcher(
                    self._registry,
                    self._load,
                    store,
                    current_version=predictor.version,
                    poll_s=self._model_poll_s,
                )
                if sc.model == "current"
                else None
            )
            sinks: list[Sink] = [
                RedisSink(store, cooldown_s=self.settings.alerts.user_cooldown_s),
                KafkaSink(kafka, emit_scores=sc.emit_scores, route=self.checkpoint.producer_for),
            ]
            if self.settings.webhook.url:  # off unless configured
                webhook = WebhookSink(self.settings.webhook)
                stack.push_async_callback(webhook.aclose)
                sinks.append(webhook)
            self._workers = Workers(
                predictor,
                decider,
                sinks,
                self.checkpoint,
                watcher=watcher,
                stats=self.stats,
                metrics=self._metrics,
                lane=ReviewLane(store),
                decided=DecidedComments(store),
            )
            self._intake = Intake(
                consumer,
                self._batcher,
                self.checkpoint,
                decider,
                dead_letter_topic=kafka.dead_letter_topic,
                retry=kafka_retry,
                max_message_bytes=kafka.max_message_bytes,
                stats=self.stats,
                metrics=self._metrics,
            )
            await kafka_retry.call(consumer.start, stop=stop)
            stack.push_async_callback(consumer.stop)
            tasks = self._workers.tasks()
            if watcher is not None:
                tasks.append(asyncio.create_task(watcher.run(), name="model-watch"))
            log.info(
                "scorer_started",
                group=self._group_id,
                topic=kafka.comments_topic,
                model=predictor.version,
                device=getattr(getattr(predictor, "device", None), "device", "n/a"),
                exactly_once=kafka.exactly_once,
            )
            try:
                await self._loop(stop, tasks)
                await self._drain()
            finally:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
                await self.checkpoint.commit()
            log.info("scorer_stopped", scored=self.stats.scored, alerts=self.stats.alerts)

    async def _loop(self, stop: asyncio.Event, tasks: list[asyncio.Task[None]]) -> None:
        max_inflight = self.settings.scorer.max_inflight_batches
        while not stop.is_set():
            if self._failure is not None:
                raise self._failure
            for task in tasks:  # a worker that died must stop the service, not hang it
                if task.done() and not task.cancelled() and task.exception():
                    raise task.exception()  # type: ignore[misc]
            self._intake.backpressure(self._workers.inflight >= max_inflight)
            await self._intake.fetch(max_records=self.settings.scorer.max_batch * 4)
            while self._batcher.due() and self._workers.inflight < max_inflight:
                self._workers.submit(self._batcher.take())
            if self.checkpoint.due():
                await self.checkpoint.commit()
                self._publish_lag()

    def _flush_batcher(self) -> None:
        """Submit everything the batcher holds, due or not, ignoring the in-flight bound."""
        while len(self._batcher):
            self._workers.submit(self._batcher.take())

    async def _drain(self) -> None:
        """Score and deliver everything fetched so far, within DRAIN_TIMEOUT_S."""
        self._flush_batcher()
        try:
            await asyncio.wait_for(self._workers.idle.wait(), DRAIN_TIMEOUT_S)
        except TimeoutError:
            log.warning("drain_timeout", inflight=self._workers.inflight)

    def _publish_lag(self) -> None:
        self.stats.lag = {f"{tp.topic}[{tp.partition}]": n for tp, n in self.checkpoint.lag.items()}
        for tp, n in self.checkpoint.lag.items():
            self._metrics.lag.labels(tp.topic, str(tp.partition)).set(n)

    async def _on_revoked(self, revoked: set[TopicPartition]) -> None:
        """Finish what we hold for these partitions (bounded), commit it, forget the rest."""
        self._flush_batcher()
        wait_s = min(DRAIN_TIMEOUT_S, self.settings.kafka.session_timeout_ms / 2000)
        started = time.monotonic()
        await self.checkpoint.revoke(revoked, wait_s)
        self._intake.forget(revoked)
        log.info(
            "partitions_revoked",
            partitions=sorted(f"{tp.topic}[{tp.partition}]" for tp in revoked),
            seconds=round(time.monotonic() - started, 2),
        )

    async def _on_assigned(self, assigned: set[TopicPartition]) -> None:
        """New generation; with exactly-once, also open (fence) the partitions' producers.
        aiokafka only logs a listener's error, so one that persists is kept for the loop."""
        retry = Retry("Kafka transactions", base_s=1.0, cap_s=10.0, timeout_s=ASSIGN_TIMEOUT_S)
        try:
            await retry.call(lambda: self.checkpoint.assign(assigned), stop=self._stop)
        except Stopped:
            return
        except BusError as exc:
            self._failure = exc
            return
        if assigned:
            self.ready.set()
        log.info(
            "partitions_assigned",
            partitions=sorted(f"{tp.topic}[{tp.partition}]" for tp in assigned),
        )

    async def _load_paddle(self, version: str) -> Predictor:
        return await asyncio.to_thread(
            open_predictor, self._registry, self.settings.scorer, version
        )
