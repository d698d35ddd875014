"""The fetch side of the scorer: records in, comments into the micro-batcher.

Undecodable records (bad JSON, wrong schema, oversized, empty text) are dead-lettered and
count as finished at once. A dead letter goes to the checkpoint's producer for its
record's partition (exactly-once: into that partition's transaction, which commits the
record's offset); a partition no longer ours gets none, since its new owner writes it. A
decoded comment is started with its id, so its alert and score find the same transaction.

Backpressure: while ``max_inflight_batches`` are scored or delivered, the assigned
partitions are paused (and polling goes on, so the group keeps its membership); they
resume when the workers catch up — except the partitions the checkpoint holds (an
exactly-once partition whose producer is being opened, or one found fenced), which it
resumes itself or leaves to the next assignment.
"""

from __future__ import annotations

from monitor.bus import (
    Consumer,
    DeadLetters,
    Fenced,
    Record,
    TopicPartition,
    dead_letter_headers,
)
from monitor.errors import SchemaError
from monitor.retry import Retry
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
        decider: Decider,
        *,
        dead_letter_topic: str,
        retry: Retry,
        max_message_bytes: int,
        stats: ScorerStats,
        metrics: ScorerMetrics,
    ) -> None:
        self._consumer = consumer
        self._batcher = batcher
        self._checkpoint = checkpoint
        self._dead_letter_topic = dead_letter_topic
        self._retry = retry
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
        self._stats.records += 1
        self._metrics.records.inc()
        try:
            comment = decode(Comment, record.value, max_bytes=self._max_bytes)
            if not comment.text.strip():
                raise SchemaError("empty text after cleaning")
        except SchemaError as exc:
            self._checkpoint.started(record)
            await self._dead_letter(record, str(exc))
            return
        self._checkpoint.started(record, comment.comment_id)
        self._batcher.add(record.tp, record.offset, self._decider.prepare(comment))

    async def _dead_letter(self, record: Record, reason: str) -> None:
        generation = self._checkpoint.generation(record.tp)
        headers = dead_letter_headers(
            reason, topic=record.topic, partition=record.partition, offset=record.offset
        )
        async with self._checkpoint.writing():
            producer = self._checkpoint.producer_of(record.tp)
            if producer is None:
                return  # the partition changed hands: not ours to write or to finish
            try:
                await DeadLetters(producer, self._dead_letter_topic, self._retry).send(
                    record.value, record.key, headers
                )
            except Fenced:
                return  # lost meanwhile: the checkpoint drops the partition at its commit
            self._checkpoint.finished(record.tp, record.offset, generation)
        self._stats.dead_letters += 1
        self._metrics.dead.inc()

    def backpressure(self, behind: bool) -> None:
        if behind:
            to_pause = self._consumer.assignment() - self._paused
            if to_pause:
                self._consumer.pause(to_pause)
                self._paused |= to_pause
                self._metrics.paused.set(1)
        elif self._paused:
            held = self._checkpoint.held  # being opened, or lost: the checkpoint resumes them
            self._consumer.resume((self._paused & self._consumer.assignment()) - held)
            self._paused.clear()
            self._metrics.paused.set(0)

    def forget(self, revoked: set[TopicPartition]) -> None:
        self._batcher.drop(revoked)
        self._paused -= revoked
