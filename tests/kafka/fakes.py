"""Fake Kafka clients for tests of the scorer's checkpoint, no broker needed.

They keep the real clients' rules: the producer opens a transaction on a send unless one
is open, commit and abort are no-ops while none is, and a fenced producer refuses every
call with ``Fenced``; the consumer records seeks, pauses and rejoins, and both log to a
shared ``events`` list so a test can check the order of calls a broker would see.
"""

from __future__ import annotations

import asyncio

from monitor.bus import Fenced, Record, TopicPartition
from monitor.scoring.checkpoint import Checkpoint

Offsets = dict[TopicPartition, int]


class FakeConsumer:
    def __init__(self, *assigned: TopicPartition, events: list[tuple[object, ...]] | None = None):
        self.assigned = set(assigned)
        self.commits: list[Offsets] = []
        self.failures: list[Exception] = []
        self.ends: Offsets = {}
        self.ends_error: Exception | None = None
        self.seeks: list[tuple[TopicPartition, int]] = []
        self.group_offsets: Offsets = {}
        self.paused: set[TopicPartition] = set()
        self.rejoins = 0
        self.events = events if events is not None else []

    def assignment(self) -> set[TopicPartition]:
        return set(self.assigned)

    async def commit(self, offsets: Offsets) -> None:
        if self.failures:
            raise self.failures.pop(0)
        self.commits.append(dict(offsets))

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self.seeks.append((tp, offset))

    async def committed(self, tp: TopicPartition) -> int | None:
        return self.group_offsets.get(tp)

    async def seek_to_committed_or_start(self, tp: TopicPartition) -> None:
        self.events.append(("seek", tp))
        self.seeks.append((tp, self.group_offsets.get(tp, 0)))

    async def end_positions(self, tps: set[TopicPartition]) -> Offsets:
        if self.ends_error is not None:
            raise self.ends_error
        return {tp: self.ends[tp] for tp in tps if tp in self.ends}

    def pause(self, tps: set[TopicPartition]) -> None:
        self.events.append(("pause", *sorted(tps)))
        self.paused |= set(tps)

    def resume(self, tps: set[TopicPartition]) -> None:
        self.events.append(("resume", *sorted(tps)))
        self.paused -= set(tps)

    def rejoin(self) -> None:
        self.rejoins += 1


class FakeProducer:
    def __init__(self, txn_id: str | None = None, events: list[tuple[object, ...]] | None = None):
        self.transactional_id = txn_id
        self.calls: list[tuple[object, ...]] = []
        self.in_transaction = False
        self.commit_failures: list[Exception] = []
        self.fenced = False
        self.stopped = False
        self.events = events if events is not None else []
        self.start_error: Exception | None = None

    def _check(self) -> None:
        if self.fenced:
            raise Fenced(f"{self.transactional_id} was fenced")

    async def start(self) -> None:
        if self.start_error is not None:
            raise self.start_error
        self.events.append(("start", self.transactional_id))

    async def stop(self) -> None:
        self.stopped = True
        self.events.append(("stop", self.transactional_id))

    async def send(self, topic: str, value: bytes, **_: object) -> asyncio.Future[None]:
        self._check()
        await self.begin_transaction()
        self.calls.append(("send", topic, value))
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done

    async def flush(self) -> None:
        self._check()
        self.calls.append(("flush",))

    async def begin_transaction(self) -> None:
        self._check()
        if not self.in_transaction:
            self.in_transaction = True
            self.calls.append(("begin",))

    async def commit_transaction(self, offsets: Offsets, group_id: str) -> None:
        self._check()
        if not self.in_transaction and not offsets:
            return
        if self.commit_failures:
            error = self.commit_failures.pop(0)
            self.fenced = isinstance(error, Fenced)
            raise error
        self.in_transaction = False
        self.calls.append(("commit", dict(offsets), group_id))

    async def abort_transaction(self) -> None:
        if self.in_transaction:
            self._check()
            self.in_transaction = False
            self.calls.append(("abort",))


def record(tp: TopicPartition, offset: int) -> Record:
    return Record(tp.topic, tp.partition, offset, None, b"{}", (), 0)


def fetch(cp: Checkpoint, tp: TopicPartition, *offsets: int) -> int:
    """Start records as the intake does; returns the generation they were fetched under."""
    for offset in offsets:
        cp.started(record(tp, offset), f"c{tp.partition}-{offset}")
    return cp.generation(tp)


async def write(cp: Checkpoint, tp: TopicPartition, generation: int, *offsets: int) -> None:
    """One unit of output, as the workers write it: each record's output to its producer."""
    async with cp.writing():
        for offset in offsets:
            producer = cp.producer_for(f"c{tp.partition}-{offset}")
            if producer is not None:
                await producer.send("alerts", f"{tp.partition}-{offset}".encode())
            cp.finished(tp, offset, generation)
