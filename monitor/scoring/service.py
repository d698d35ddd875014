"""The scorer: a Kafka consumer group member that scores comments in micro-batches and
delivers alerts. This module only wires the parts together and runs the loop:

    Intake ──► MicroBatcher ──► Workers (score → decide → every sink) ──► Checkpoint
      │ undecodable → DeadLetters                                            │
      └─────────────── every commit_interval_s: Checkpoint.commit() ◄─────────┘

At-least-once: an offset is committed only when its record and every record before it in
the partition was delivered to every sink (or dead-lettered); alert ids are stable per
(comment, model version), so Redis drops repeats after a crash and Kafka consumers can
too. With ``kafka.exactly_once`` the alerts, scores and offsets commit in one Kafka
transaction, and read_committed consumers see each alert once.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import time
from collections.abc import Awaitable, Callable

import structlog

from monitor.bus import Consumer, DeadLetters, Producer, TopicPartition
from monitor.errors import BusError
from monitor.metrics import Metrics
from monitor.model.bundled import registry_for
from monitor.model.predictor import PaddlePredictor, Predictor
from monitor.retry import Retry
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
from monitor.store import ReviewLane, Store

__all__ = ["ScorerService", "ScorerStats"]

log = structlog.get_logger()
DRAIN_TIMEOUT_S = 30.0


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

    async def run(self, stop: asyncio.Event) -> None:
        """Consume until ``stop`` is set, then drain in-flight work and commit."""
        kafka, sc = self.settings.kafka, self.settings.scorer
        kafka_retry = Retry("Kafka", base_s=1.0, cap_s=30.0, retry_on=(BusError,))
        async with contextlib.AsyncExitStack() as stack:
            predictor = await self._load(self._registry.resolve(sc.model))
            # the predictor being served when we stop (a swap may have replaced this one)
            stack.callback(
                lambda: (self._workers.predictor if self._workers else predictor).close()
            )
            store = Store(self.settings.redis)
            stack.push_async_callback(store.aclose)
            producer = Producer(kafka, client_id="lovelorn-scorer", transactional_id=self._txn_id())
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
                group_id=self._group_id,
                interval_s=sc.commit_interval_s,
                exactly_once=kafka.exactly_once,
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
                KafkaSink(kafka, producer, emit_scores=sc.emit_scores),
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
            )
            self._intake = Intake(
                consumer,
                self._batcher,
                self.checkpoint,
                DeadLetters(producer, kafka.dead_letter_topic, kafka_retry),
                decider,
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
        self.checkpoint.assign(assigned)
        if assigned:
            self.ready.set()
        log.info(
            "partitions_assigned",
            partitions=sorted(f"{tp.topic}[{tp.partition}]" for tp in assigned),
        )

    def _txn_id(self) -> str | None:
        """``kafka.transactional_id`` when set: a restarted scorer with the same id fences its
        killed predecessor's open transaction at once (``lovelorn run`` sets one per child).
        Otherwise unique per process, so two scorers on one host never fence each other; a
        killed one's open transaction then ends after ``kafka.transaction_timeout_ms``."""
        kafka = self.settings.kafka
        if not kafka.exactly_once:
            return None
        return kafka.transactional_id or (
            f"lovelorn-{self._group_id}-{socket.gethostname()}-{os.getpid()}"
        )

    async def _load_paddle(self, version: str) -> Predictor:
        return await asyncio.to_thread(
            PaddlePredictor.from_registry, self._registry, self.settings.scorer, version
        )
