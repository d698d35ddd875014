"""One transactional producer per input partition: how exactly-once fences a zombie scorer.

aiokafka 0.14 sends TxnOffsetCommit v0, which carries no consumer-group generation, so the
broker cannot tell a scorer that lost its partitions (paused past the session timeout, then
resumed) from their new owner: KIP-447 fencing is not available. Kafka Streams had the same
problem before KIP-447 and solved it by giving the transactional id to the *input
partition* instead of the process: ``{prefix}-{group}-{topic}-{partition}``. Whoever the
group assigns a partition starts a producer with that id; its InitProducerId bumps the
id's epoch, which aborts the previous holder's open transaction and makes each later
write, offset commit or commit of it fail with ProducerFenced. So the previous holder's
output and offsets for that partition can never become visible after the handover.

Three rules keep the fencing sound (``Checkpoint`` follows them):

- only an assignment opens a partition's producer (``open``); a holder never re-creates
  a producer that was fenced, since re-initialising the id would fence the rightful owner;
- a revocation closes the partition's producer (aborting any transaction left open);
- the prefix (``kafka.transactional_id``, default ``lovelorn``) is the same for every
  member of the group, or members would not fence each other.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterable

import structlog
from aiokafka.structs import TopicPartition

from monitor.bus.producer import Producer
from monitor.errors import BusError
from monitor.settings import KafkaSettings

__all__ = ["PartitionProducers"]

log = structlog.get_logger()
ABORT_TIMEOUT_S = 5.0


class PartitionProducers:
    """The transactional producers of the partitions this member owns, by input partition.

    ``make`` builds a producer for a transactional id (tests pass fakes)."""

    def __init__(
        self,
        kafka: KafkaSettings,
        *,
        group_id: str,
        client_id: str = "lovelorn-scorer",
        make: Callable[[str], Producer] | None = None,
    ) -> None:
        self.prefix = kafka.transactional_id or "lovelorn"
        self._group_id = group_id
        self._make = make or (
            lambda txn_id: Producer(kafka, client_id=client_id, transactional_id=txn_id)
        )
        self._producers: dict[TopicPartition, Producer] = {}

    def transactional_id(self, tp: TopicPartition) -> str:
        return f"{self.prefix}-{self._group_id}-{tp.topic}-{tp.partition}"

    def get(self, tp: TopicPartition) -> Producer | None:
        """The partition's producer, or None: not assigned to us, or fenced (no longer ours)."""
        producer = self._producers.get(tp)
        return None if producer is None or producer.fenced else producer

    def fenced(self, tp: TopicPartition) -> bool:
        producer = self._producers.get(tp)
        return producer is not None and producer.fenced

    def owned(self) -> set[TopicPartition]:
        return set(self._producers)

    async def open(self, tps: Iterable[TopicPartition]) -> None:
        """Start a producer for each newly assigned partition, all at once; starting one
        fences every earlier holder of its id. Partitions already open are kept, so a
        failed call can simply be repeated; the first error is raised."""
        todo = [tp for tp in tps if self.get(tp) is None]
        for tp in todo:
            await self._close_one(tp)  # a fenced leftover: the assignment makes it ours again
        producers = {tp: self._make(self.transactional_id(tp)) for tp in todo}
        results = await asyncio.gather(
            *(p.start() for p in producers.values()), return_exceptions=True
        )
        errors = []
        for (tp, producer), result in zip(producers.items(), results, strict=True):
            if isinstance(result, BaseException):
                errors.append(result)
            else:
                self._producers[tp] = producer
        if todo:
            log.info(
                "transactional_producers_opened",
                ids=sorted(self.transactional_id(tp) for tp in todo),
                failed=len(errors),
            )
        if errors:
            raise errors[0]

    async def close(self, tps: Iterable[TopicPartition]) -> None:
        """Abort what is still open (bounded: the broker aborts it anyway on the next owner's
        start or after ``transaction_timeout_ms``) and stop the producers."""
        await asyncio.gather(*(self._close_one(tp) for tp in list(tps)))

    async def aclose(self) -> None:
        await self.close(self.owned())

    async def _close_one(self, tp: TopicPartition) -> None:
        producer = self._producers.pop(tp, None)
        if producer is None:
            return
        with contextlib.suppress(BusError, TimeoutError):
            await asyncio.wait_for(producer.abort_transaction(), ABORT_TIMEOUT_S)
        await producer.stop()
