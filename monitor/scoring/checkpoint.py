"""What a scorer may commit, and the commit itself.

Shaped like Quix Streams' ``Checkpoint``: a record is *started* when fetched and
*finished* when every sink has it (or it was dead-lettered). ``commit()`` then runs:

  1. wait for the writes in progress (a batch between its first and its last sink);
  2. flush the producer (dead letters, alerts and scores acknowledged);
  3. commit, per partition, the offset below which every record is finished — inside the
     Kafka transaction together with the alerts and scores when exactly-once is on;
  4. record the committed offsets and the lag.

A partition revoked and assigned again gets a new *generation*: a batch fetched under the
old one cannot mark offsets of the new assignment finished (and is not delivered).

Exactly-once: when a transaction's commit fails it is aborted, and everything finished in it
is gone from Kafka; the checkpoint then *rewinds*: every owned partition seeks back to its
committed offset under a new generation, so those records are fetched and written again in
the next transaction, and work already in flight is dropped instead of delivered.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable, Iterable

import structlog

from monitor.bus import Consumer, Producer, Record, TopicPartition
from monitor.errors import BusError
from monitor.scoring.offsets import OffsetTracker

__all__ = ["Checkpoint"]

log = structlog.get_logger()


class Checkpoint:
    def __init__(
        self,
        consumer: Consumer,
        producer: Producer,
        *,
        group_id: str,
        interval_s: float,
        exactly_once: bool = False,
        after_commit: Callable[[], None] | None = None,
        on_rewind: Callable[[set[TopicPartition]], None] | None = None,
    ) -> None:
        """``after_commit`` runs under the commit's lock, so what it records (a metrics
        snapshot for a supervisor) matches the committed offsets exactly; ``on_rewind``
        drops what the caller holds for rewound partitions (the micro-batcher)."""
        self._consumer = consumer
        self._producer = producer
        self._group_id = group_id
        self._interval_s = interval_s
        self._exactly_once = exactly_once
        self._after_commit = after_commit
        self._on_rewind = on_rewind
        self._offsets = OffsetTracker()
        self._generation: dict[TopicPartition, int] = {}
        self._lock = asyncio.Lock()
        self._next_commit = time.monotonic() + interval_s
        self.lag: dict[TopicPartition, int] = {}

    # -- records -------------------------------------------------------------
    def started(self, record: Record) -> None:
        self._offsets.started(record.tp, record.offset)

    def generation(self, tp: TopicPartition) -> int:
        return self._generation.get(tp, 0)

    def finished(self, tp: TopicPartition, offset: int, generation: int) -> None:
        """Ignored when the partition changed hands since the record was fetched."""
        if self._generation.get(tp, 0) == generation:
            self._offsets.finished(tp, offset)

    def pending(self, tp: TopicPartition) -> int:
        return self._offsets.pending(tp)

    def committed(self) -> dict[TopicPartition, int]:
        """The last committed position of each partition this member owns."""
        owned = self._consumer.assignment()
        return {tp: o for tp in owned if (o := self._offsets.committed(tp)) is not None}

    @contextlib.asynccontextmanager
    async def writing(self) -> AsyncIterator[None]:
        """One unit of output (a batch to every sink, a dead letter) and its ``finished``
        calls: a commit never lands in the middle of one."""
        async with self._lock:
            if self._exactly_once:
                await self._producer.begin_transaction()
            yield

    # -- commits -------------------------------------------------------------
    def due(self) -> bool:
        return time.monotonic() >= self._next_commit

    async def commit(self, only: set[TopicPartition] | None = None) -> None:
        """Steps 1–4 above; a failed commit is logged and tried again at the next one."""
        async with self._lock:  # Step 1
            self._next_commit = time.monotonic() + self._interval_s
            assigned = self._consumer.assignment()
            offsets = {
                tp: o
                for tp, o in self._offsets.committable().items()
                if tp in assigned and (only is None or tp in only)
            }
            try:
                await self._producer.flush()  # Step 2
                if self._exactly_once:  # Step 3
                    await self._producer.commit_transaction(offsets, self._group_id)
                elif offsets:
                    await self._consumer.commit(offsets)
            except BusError as exc:
                log.warning("commit_failed", error=str(exc))
                if self._exactly_once:
                    await self._rewind()
                return
            self._offsets.mark_committed(offsets)  # Step 4
            if self._after_commit is not None:
                self._after_commit()
        await self._measure_lag(assigned)

    async def _rewind(self) -> None:
        """Abort, then fetch again from the committed offsets (see the module docstring)."""
        try:
            await self._producer.abort_transaction()
        except BusError as exc:
            log.warning("abort_failed", error=str(exc))
        owned = self._consumer.assignment()
        for tp in owned:
            position = self._offsets.committed(tp)
            if position is None:
                try:
                    position = await self._consumer.committed(tp)
                except BusError:
                    position = None
            if position is None:
                await self._consumer.seek_to_committed_or_start(tp)
            else:
                self._consumer.seek(tp, position)
        self._bump(owned)
        self._offsets.drop(owned)
        if self._on_rewind is not None:
            self._on_rewind(owned)
        log.warning("transaction_aborted_rewound", partitions=_names(owned))

    def current(self, tp: TopicPartition, generation: int) -> bool:
        """Whether work fetched under ``generation`` still belongs to this assignment."""
        return self._generation.get(tp, 0) == generation

    async def _measure_lag(self, assigned: set[TopicPartition]) -> None:
        try:
            ends = await self._consumer.end_positions(assigned)
        except BusError:
            return
        for tp, end in ends.items():
            # nothing committed yet: everything in the partition is still to do
            self.lag[tp] = max(0, end - (self._offsets.committed(tp) or 0))

    # -- rebalances ----------------------------------------------------------
    async def revoke(self, revoked: set[TopicPartition], wait_s: float) -> None:
        """Give the workers ``wait_s`` to finish these partitions, commit them, forget them."""
        deadline = time.monotonic() + wait_s
        while any(self._offsets.pending(tp) for tp in revoked) and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.02)  # workers finish on their own; this only bounds the wait
        try:
            await asyncio.wait_for(self.commit(only=revoked), timeout=max(0.1, wait_s))
        except TimeoutError:
            log.warning("revoke_commit_timeout", partitions=_names(revoked))
        self._bump(revoked)
        self._offsets.drop(revoked)
        for tp in revoked:
            self.lag.pop(tp, None)

    def assign(self, assigned: Iterable[TopicPartition]) -> None:
        self._bump(assigned)

    def _bump(self, tps: Iterable[TopicPartition]) -> None:
        for tp in tps:
            self._generation[tp] = self._generation.get(tp, 0) + 1


def _names(tps: Iterable[TopicPartition]) -> list[str]:
    return sorted(f"{tp.topic}[{tp.partition}]" for tp in tps)
