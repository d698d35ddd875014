"""What a scorer may commit, where its output goes, and the commit itself.

Shaped like Quix Streams' ``Checkpoint``: a record is *started* when fetched and
*finished* when every sink has it (or it was dead-lettered). ``commit()`` then runs:

  1. wait for the writes in progress (a batch between its first and its last sink);
  2. flush the producer (dead letters, alerts and scores acknowledged);
  3. commit, per partition, the offset below which every record is finished — with the
     consumer (at least once), or inside that partition's own transaction together with
     its alerts, scores and dead letters (exactly once);
  4. record the committed offsets and the lag.

A partition revoked and assigned again gets a new *generation*: a batch fetched under the
old one cannot mark offsets of the new assignment finished (and is not delivered).

Exactly once (``transactions``): one transactional producer per input partition, the
fencing of ``monitor.bus.transactions``, whose rules this class follows:

- ``assign`` holds the new partitions paused, opens their producers, which fences every
  earlier holder, and only then reads from each partition's committed offset: what a
  fenced zombie left open is aborted, what it committed before the fence is counted;
- a record's output joins its own partition's transaction (``producer_of``, and
  ``producer_for`` by comment id through ``Routes``), so committing partition A's offsets
  never makes partition B's output visible, or the reverse;
- a commit that fails is aborted and the partition *rewinds*: it seeks back to its
  committed offset under a new generation, so its records are fetched and written again in
  the next transaction and work already in flight is dropped instead of delivered;
- a partition whose producer was fenced is *lost*: the group gave it to someone else. Its
  work is dropped, its fetching paused, its producer closed and never re-created by us, and
  the member asks the group for a new assignment — the only way to own it again;
- ``revoke`` commits what is finished, then closes the partitions' producers.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable, Iterable

import structlog

from monitor.bus import Consumer, Fenced, PartitionProducers, Producer, Record, TopicPartition
from monitor.errors import BusError
from monitor.scoring.offsets import OffsetTracker
from monitor.scoring.routes import Routes

__all__ = ["Checkpoint"]

log = structlog.get_logger()
Offsets = dict[TopicPartition, int]


class Checkpoint:
    def __init__(
        self,
        consumer: Consumer,
        producer: Producer | None = None,
        *,
        transactions: PartitionProducers | None = None,
        group_id: str,
        interval_s: float,
        after_commit: Callable[[], None] | None = None,
        on_rewind: Callable[[set[TopicPartition]], None] | None = None,
    ) -> None:
        """Either ``producer`` (shared, at least once) or ``transactions`` (exactly once).
        ``after_commit`` runs under the commit's lock, so what it records (a metrics
        snapshot for a supervisor) matches the committed offsets exactly; ``on_rewind``
        drops what the caller holds for rewound or lost partitions (the micro-batcher)."""
        if (producer is None) == (transactions is None):
            raise ValueError("a shared producer or per-partition transactions, exactly one")
        self._consumer = consumer
        self._producer = producer
        self._transactions = transactions
        self._group_id = group_id
        self._interval_s = interval_s
        self._after_commit = after_commit
        self._on_rewind = on_rewind
        self._offsets = OffsetTracker()
        self._routes = Routes()
        self._generation: dict[TopicPartition, int] = {}
        self._lock = asyncio.Lock()
        self._next_commit = time.monotonic() + interval_s
        self._revoking = False
        self.lost: set[TopicPartition] = set()  # fenced: a newer owner holds them
        self._opening: set[TopicPartition] = set()  # assigned, producers not open yet
        self.lag: dict[TopicPartition, int] = {}

    # -- records -------------------------------------------------------------
    def started(self, record: Record, comment_id: str | None = None) -> None:
        """``comment_id``: a decoded comment, whose output joins this record's transaction."""
        self._offsets.started(record.tp, record.offset)
        if comment_id is not None and self._transactions is not None:
            self._routes.add(comment_id, record.tp, record.offset)

    def generation(self, tp: TopicPartition) -> int:
        return self._generation.get(tp, 0)

    def current(self, tp: TopicPartition, generation: int) -> bool:
        """Whether work fetched under ``generation`` still belongs to this assignment."""
        return self._generation.get(tp, 0) == generation

    def finished(self, tp: TopicPartition, offset: int, generation: int) -> None:
        """Ignored when the partition changed hands since the record was fetched."""
        if self.current(tp, generation):
            self._offsets.finished(tp, offset)
            self._routes.done(tp, offset)

    def unfetched(self) -> dict[TopicPartition, int]:
        return self._consumer.unfetched()  # the lag before a commit has measured it

    def pending(self, tp: TopicPartition) -> int:
        return self._offsets.pending(tp)

    def committed(self) -> Offsets:
        """The last committed position of each partition this member owns."""
        owned = self._consumer.assignment()
        return {tp: o for tp in owned if (o := self._offsets.committed(tp)) is not None}

    # -- where output goes ------------------------------------------------------
    def producer_of(self, tp: TopicPartition) -> Producer | None:
        """The producer for output of a record of ``tp``: the shared one, or (exactly once)
        the partition's; None when the partition is no longer ours (its owner writes it)."""
        if self._transactions is None:
            return self._producer
        return None if tp in self.lost else self._transactions.get(tp)

    def producer_for(self, comment_id: str) -> Producer | None:
        """``producer_of`` the partition the comment in flight was read from."""
        if self._transactions is None:
            return self._producer
        tp = self._routes.get(comment_id)
        return None if tp is None else self.producer_of(tp)

    @contextlib.asynccontextmanager
    async def writing(self) -> AsyncIterator[None]:
        """One unit of output (a batch to every sink, a dead letter) and its ``finished``
        calls: a commit never lands in the middle of one. A transactional producer opens
        its partition's transaction on the unit's first send."""
        async with self._lock:
            yield

    # -- commits -------------------------------------------------------------
    def due(self) -> bool:
        return time.monotonic() >= self._next_commit

    async def commit(self, only: set[TopicPartition] | None = None) -> None:
        """Steps 1–4 above; a failed commit is logged and tried again at the next one."""
        async with self._lock:  # Step 1
            self._next_commit = time.monotonic() + self._interval_s
            assigned = {tp for tp in self._consumer.assignment() if only is None or tp in only}
            offsets = {tp: o for tp, o in self._offsets.committable().items() if tp in assigned}
            if self._transactions is None:
                done = await self._commit_shared(offsets)
                if done is None:
                    return
            else:
                owned = (self._transactions.owned() | offsets.keys()) & assigned
                results = await asyncio.gather(
                    *(self._commit_partition(tp, offsets.get(tp)) for tp in sorted(owned))
                )
                done = {
                    tp: o for tp, o in zip(sorted(owned), results, strict=True) if o is not None
                }
            self._offsets.mark_committed(done)  # Step 4
            if self._after_commit is not None:
                self._after_commit()
        await self._measure_lag(assigned)

    async def _commit_shared(self, offsets: Offsets) -> Offsets | None:
        assert self._producer is not None
        try:
            await self._producer.flush()  # Step 2
            if offsets:
                await self._consumer.commit(offsets)  # Step 3
        except BusError as exc:
            log.warning("commit_failed", error=str(exc))
            return None
        return offsets

    async def _commit_partition(self, tp: TopicPartition, offset: int | None) -> int | None:
        """Steps 2–3 for one partition's transaction; the offset committed, or None."""
        assert self._transactions is not None
        producer = self.producer_of(tp)
        if producer is None:
            if tp not in self.lost and self._transactions.fenced(tp):
                await self._lose(tp, "fenced before its commit")
            return None
        if offset is None and not producer.in_transaction:
            return None  # nothing written, nothing finished
        try:
            await producer.flush()  # Step 2
            await producer.commit_transaction(  # Step 3
                {tp: offset} if offset is not None else {}, self._group_id
            )
        except Fenced as exc:
            await self._lose(tp, str(exc))
            return None
        except BusError as exc:
            log.warning("commit_failed", partition=_name(tp), error=str(exc))
            await self._rewind(tp, producer)
            return None
        return offset

    async def _rewind(self, tp: TopicPartition, producer: Producer) -> None:
        """Abort, then fetch again from the committed offset (see the module docstring)."""
        try:
            await producer.abort_transaction()
        except BusError as exc:  # fenced, or in no state to write again: only a new
            await self._lose(tp, f"abort failed: {exc}")  # assignment may replace it
            return
        if (position := self._offsets.committed(tp)) is not None:
            self._consumer.seek(tp, position)
        else:  # nothing committed by this member: where the group stands
            await self._consumer.seek_to_committed_or_start(tp)
        self._forget({tp})
        log.warning("transaction_aborted_rewound", partitions=[_name(tp)])

    async def _lose(self, tp: TopicPartition, reason: str) -> None:
        """A newer owner holds ``tp``: drop our work on it and stop fetching it until the
        group assigns it again (see the module docstring)."""
        assert self._transactions is not None
        self.lost.add(tp)
        self._consumer.pause({tp})
        self._forget({tp})
        await self._transactions.close({tp})
        if not self._revoking:  # a rebalance in progress assigns anew anyway
            self._consumer.rejoin()
        log.warning("partition_lost", partition=_name(tp), reason=reason)

    def _forget(self, tps: set[TopicPartition]) -> None:
        self._bump(tps)
        self._offsets.drop(tps)
        self._routes.drop(tps)
        if self._on_rewind is not None:
            self._on_rewind(tps)

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
        """Give the workers ``wait_s`` to finish these partitions, commit them, forget them
        and (exactly once) close their producers."""
        deadline = time.monotonic() + wait_s
        while any(self._offsets.pending(tp) for tp in revoked) and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.02)  # workers finish on their own; this only bounds the wait
        self._revoking = True
        try:
            await asyncio.wait_for(self.commit(only=revoked), timeout=max(0.1, wait_s))
        except TimeoutError:
            log.warning("revoke_commit_timeout", partitions=_names(revoked))
        finally:
            self._revoking = False
        self._forget(revoked)
        self.lost -= revoked
        self._opening -= revoked
        for tp in revoked:
            self.lag.pop(tp, None)
        if self._transactions is not None:  # aborts what a timed-out commit left open
            await self._transactions.close(revoked)

    async def assign(self, assigned: Iterable[TopicPartition]) -> None:
        """New generation; exactly once: 1. hold the partitions paused, 2. open their
        producers (fencing earlier holders), 3. seek to the committed offsets as they stand
        after the fence, 4. drop whatever was fetched before the seek (a new generation)
        and resume. Safe to repeat when a step fails."""
        assigned = set(assigned)
        self.lost -= assigned
        if self._transactions is None or not assigned:
            self._bump(assigned)
            return
        self._opening |= assigned
        self._consumer.pause(assigned)  # Step 1: before the first await
        await self._transactions.open(assigned)  # Step 2
        for tp in sorted(assigned):
            await self._consumer.seek_to_committed_or_start(tp)  # Step 3
        self._forget(assigned)  # Step 4
        self._opening -= assigned
        self._consumer.resume(assigned)

    @property
    def held(self) -> set[TopicPartition]:
        """Partitions kept paused whatever the backpressure: being opened, or lost."""
        return self._opening | self.lost

    def _bump(self, tps: Iterable[TopicPartition]) -> None:
        for tp in tps:
            self._generation[tp] = self._generation.get(tp, 0) + 1


def _name(tp: TopicPartition) -> str:
    return f"{tp.topic}[{tp.partition}]"


def _names(tps: Iterable[TopicPartition]) -> list[str]:
    return sorted(_name(tp) for tp in tps)
