"""The fetch side of the scorer: records in, comments into the micro-batcher.

Undecodable records (bad JSON, wrong schema, oversized, empty text) are dead-lettered and
count as finished at once. Backpressure: while ``max_inflight_batches`` are scored or
delivered, the assigned partitions are paused (and polling goes on, so the group keeps
its membership); they resume when the workers catch up.
"""

from __future__ import annotations

from monitor.bus import Consumer, DeadLetters, Record, TopicPartition, dead_letter_headers
from monitor.errors import SchemaError
from monitor.schemas import Comment, decode
from monitor.scoring.batcher import MicroBatcher
from monitor.scoring.checkpoint import Checkpoint
from monitor.scoring.decider import Decider
from monitor.scoring.stats import ScorerMetrics, ScorerStats

__all__ = ["Intake"]


class Intake:
    def __init__(
        self,
        consumer: Consumer,
        batcher: MicroBatcher[Comment],
        checkpoint: Checkpoint,
        dead_letters: DeadLetters,
        decider: Decider,
        *,
        max_message_bytes: int,
        stats: ScorerStats,
        metrics: ScorerMetrics,
    ) -> None:
        self._consumer = consumer
        self._batcher = batcher
        self._checkpoint = checkpoint
        self._dead_letters = dead_letters
        self._decider = decider
        self._max_bytes = max_message_bytes
        self._stats = stats
        self._metrics = metrics
        self._paused: set[TopicPartition] = set()

    async def fetch(self, max_records: int) -> None:
        """One poll; returns within the batcher's remaining wait (at most 0.5 s)."""
        timeout_ms = max(1, int(min(self._batcher.wait_s(), 0.5) * 1000))
        fetched = await self._consumer.getmany(timeout_ms=timeout_ms, max_records=max_records)
        for records in fetched.values():
            for record in records:
                await self.accept(record)

    async def accept(self, record: Record) -> None:
        self._checkpoint.started(record)
        self._stats.records += 1
        self._metrics.records.inc()
        try:
            comment = decode(Comment, record.value, max_bytes=self._max_bytes)
            if not comment.text.strip():
                raise SchemaError("empty text after cleaning")
        except SchemaError as exc:
            generation = self._checkpoint.generation(record.tp)
            async with self._checkpoint.writing():
                await self._dead_letters.send(
                    record.value,
                    record.key,
                    dead_letter_headers(
                        str(exc),
                        topic=record.topic,
                        partition=record.partition,
                        offset=record.offset,
                    ),
                )
                self._checkpoint.finished(record.tp, record.offset, generation)
            self._stats.dead_letters += 1
            self._metrics.dead.inc()
            return
        self._batcher.add(record.tp, record.offset, self._decider.prepare(comment))

    def backpressure(self, behind: bool) -> None:
        if behind:
            to_pause = self._consumer.assignment() - self._paused
            if to_pause:
                self._consumer.pause(to_pause)
                self._paused |= to_pause
                self._metrics.paused.set(1)
        elif self._paused:
            self._consumer.resume(self._paused & self._consumer.assignment())
            self._paused.clear()
            self._metrics.paused.set(0)

    def forget(self, revoked: set[TopicPartition]) -> None:
        self._batcher.drop(revoked)
        self._paused -= revoked
