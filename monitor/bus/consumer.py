"""A consumer that hands out plain ``Record``s and takes explicit offsets to commit.

Auto-commit is always off: callers commit what they have fully processed, which is how
the scorer stays at-least-once.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener
from aiokafka.structs import OffsetAndMetadata, TopicPartition

from monitor.bus.connection import SILENT_S, KafkaClient, connection_options, translate_errors
from monitor.settings import KafkaSettings

__all__ = ["Consumer", "Record", "TopicPartition"]

PartitionsHook = Callable[[set[TopicPartition]], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Record:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...]
    timestamp_ms: int

    @property
    def tp(self) -> TopicPartition:
        return TopicPartition(self.topic, self.partition)

    @property
    def where(self) -> str:
        return f"{self.topic}[{self.partition}]@{self.offset}"


class _Listener(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(
        self, on_revoked: PartitionsHook | None, on_assigned: PartitionsHook | None
    ) -> None:
        self._on_revoked = on_revoked
        self._on_assigned = on_assigned

    async def on_partitions_revoked(self, revoked: Iterable[TopicPartition]) -> None:
        if self._on_revoked:
            await self._on_revoked(set(revoked))

    async def on_partitions_assigned(self, assigned: Iterable[TopicPartition]) -> None:
        if self._on_assigned:
            await self._on_assigned(set(assigned))


class Consumer(KafkaClient):
    """``group_id=None`` means manual assignment (replay), never touching any group's offsets."""

    def __init__(
        self,
        kafka: KafkaSettings,
        *,
        group_id: str | None,
        topics: Iterable[str] = (),
        on_revoked: PartitionsHook | None = None,
        on_assigned: PartitionsHook | None = None,
        auto_offset_reset: str = "earliest",
        client_id: str = "lovelorn",
        read_committed: bool = False,
    ) -> None:
        self._kafka = kafka
        self._topics = list(topics)
        self._listener = _Listener(on_revoked, on_assigned)
        self._options = {
            "client_id": client_id,
            "group_id": group_id,
            "enable_auto_commit": False,
            "auto_offset_reset": auto_offset_reset,
            "isolation_level": "read_committed" if read_committed else "read_uncommitted",
            "session_timeout_ms": kafka.session_timeout_ms,
            "heartbeat_interval_ms": max(kafka.session_timeout_ms // 3, 100),
            "max_partition_fetch_bytes": kafka.max_message_bytes + 65536,
            "fetch_max_bytes": max(52428800, kafka.max_message_bytes * 2),
        }
        self._role = "consumer"

    def _make(self) -> AIOKafkaConsumer:
        return AIOKafkaConsumer(**connection_options(self._kafka), **self._options)

    def _after_start(self) -> None:
        if self._topics:
            self._client.subscribe(self._topics, listener=self._listener)

    async def getmany(
        self, timeout_ms: int, max_records: int | None = None
    ) -> dict[TopicPartition, list[Record]]:
        with translate_errors("fetching records", silent_after_s=timeout_ms / 1000 + SILENT_S):
            batches = await self._client.getmany(timeout_ms=timeout_ms, max_records=max_records)
        return {
            tp: [
                Record(
                    m.topic,
                    m.partition,
                    m.offset,
                    m.key,
                    m.value,
                    tuple(m.headers or ()),
                    m.timestamp,
                )
                for m in messages
            ]
            for tp, messages in batches.items()
        }

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        """Commit next-offsets to read (last processed + 1), as Kafka expects."""
        if offsets:
            with translate_errors(f"committing {_fmt(offsets)}"):
                await self._client.commit(
                    {tp: OffsetAndMetadata(o, "") for tp, o in offsets.items()}
                )

    async def committed(self, tp: TopicPartition) -> int | None:
        with translate_errors(f"reading committed offset of {tp.topic}[{tp.partition}]"):
            return await self._client.committed(tp)

    def assign(self, tps: Iterable[TopicPartition]) -> None:
        self._client.assign(list(tps))

    def assignment(self) -> set[TopicPartition]:
        return set(self._client.assignment())

    async def partitions(self, topic: str) -> set[TopicPartition]:
        with translate_errors(f"reading partitions of {topic}"):
            parts = self._client.partitions_for_topic(topic)
            if parts is None:
                await self._client._client.force_metadata_update()
                parts = self._client.partitions_for_topic(topic) or set()
        return {TopicPartition(topic, p) for p in parts}

    def rejoin(self) -> None:
        """Ask the group for a new assignment at the next poll. The scorer does this when a
        partition's transactional producer was fenced: only an assignment may open that
        partition's producer again (see ``monitor.bus.transactions``)."""
        coordinator = getattr(self._client, "_coordinator", None)
        if coordinator is not None:  # aiokafka has no public call for this
            coordinator.request_rejoin()

    def pause(self, tps: Iterable[TopicPartition]) -> None:
        self._client.pause(*tps)

    def resume(self, tps: Iterable[TopicPartition]) -> None:
        self._client.resume(*tps)

    def paused(self) -> set[TopicPartition]:
        return set(self._client.paused())

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self._client.seek(tp, offset)

    async def seek_to_committed_or_start(self, tp: TopicPartition) -> None:
        """Where a new member of the group would start: nothing committed means the earliest."""
        with translate_errors(f"seeking {tp.topic}[{tp.partition}] to its committed offset"):
            committed = await self._client.committed(tp)
            if committed is None:
                await self._client.seek_to_beginning(tp)
            else:
                self._client.seek(tp, committed)

    async def seek_to_beginning(self, tps: Iterable[TopicPartition]) -> None:
        with translate_errors("seeking to the beginning"):
            await self._client.seek_to_beginning(*tps)

    async def position(self, tp: TopicPartition) -> int:
        with translate_errors(f"reading position of {tp.topic}[{tp.partition}]"):
            return await self._client.position(tp)

    def highwater(self, tp: TopicPartition) -> int | None:
        """The end of the partition as of the last fetch response (no request)."""
        return self._client.highwater(tp)

    def unfetched(self) -> dict[TopicPartition, int]:
        """Records not fetched yet per assigned partition, as of the last fetch response
        (no request): high-water mark minus position. Partitions not fetched yet are left out."""
        subscription = self._client._subscription.subscription  # no public accessor
        assignment = subscription.assignment if subscription is not None else None
        out = {}
        for tp in self._client.assignment():
            state = assignment.state_value(tp) if assignment is not None else None
            if state is not None and state.highwater is not None and state.has_valid_position:
                out[tp] = max(0, state.highwater - state.position)
        return out

    async def end_offsets(self, tps: Iterable[TopicPartition]) -> dict[TopicPartition, int]:
        with translate_errors("reading end offsets"):
            return dict(await self._client.end_offsets(list(tps)))

    async def end_positions(self, tps: Iterable[TopicPartition]) -> dict[TopicPartition, int]:
        """Where each partition ends, for lag: ``end_offsets()`` on Apache Kafka; the last
        fetch's high-water mark on the embedded broker, whose ``end_offsets()`` is wrong."""
        tps = list(tps)
        if not self._kafka.lag_from_highwater:
            return await self.end_offsets(tps)
        return {tp: hw for tp in tps if (hw := self._client.highwater(tp)) is not None}

    async def offsets_for_times(
        self, times: dict[TopicPartition, int]
    ) -> dict[TopicPartition, int | None]:
        with translate_errors("looking up offsets by time"):
            found = await self._client.offsets_for_times(times)
        return {tp: (v.offset if v is not None else None) for tp, v in found.items()}

    async def beginning_offsets(self, tps: Iterable[TopicPartition]) -> dict[TopicPartition, int]:
        with translate_errors("reading beginning offsets"):
            return await self._client.beginning_offsets(list(tps))


def _fmt(offsets: dict[TopicPartition, int]) -> str:
    return ", ".join(f"{tp.topic}[{tp.partition}]@{o}" for tp, o in sorted(offsets.items()))
