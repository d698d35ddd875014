"""A thin producer: acks=all, optional idempotence, optional transactions (real Kafka only),
errors as BusError."""

from __future__ import annotations

from collections.abc import Awaitable, Sequence
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.structs import OffsetAndMetadata, TopicPartition

from monitor.bus.connection import KafkaClient, connection_options, translate_errors
from monitor.settings import KafkaSettings

__all__ = ["Producer"]

Headers = Sequence[tuple[str, bytes]]


class Producer(KafkaClient):
    """``transactional_id`` turns on transactions (and idempotence, which they need)."""

    def __init__(
        self,
        kafka: KafkaSettings,
        *,
        client_id: str = "lovelorn",
        transactional_id: str | None = None,
    ) -> None:
        self._kafka = kafka
        self._client_id = client_id
        self._transactional_id = transactional_id
        self._in_transaction = False
        self._role = "producer"

    def _make(self) -> Any:
        kafka = self._kafka
        options: dict[str, Any] = {}
        if self._transactional_id:
            options = {
                "transactional_id": self._transactional_id,
                "transaction_timeout_ms": kafka.transaction_timeout_ms,
            }
        return AIOKafkaProducer(
            **connection_options(kafka),
            client_id=self._client_id,
            acks="all",
            enable_idempotence=kafka.enable_idempotence or bool(self._transactional_id),
            compression_type=None if kafka.compression == "none" else kafka.compression,
            max_request_size=kafka.max_message_bytes,
            linger_ms=5,
            **options,
        )

    async def send(
        self, topic: str, value: bytes, *, key: bytes | None = None, headers: Headers = ()
    ) -> Awaitable[None]:
        """Queue one record; the returned awaitable completes when the broker has acknowledged it."""
        with translate_errors(f"producing to {topic}"):
            future = await self._client.send(topic, value, key=key, headers=list(headers) or None)
        return self._acknowledged(topic, future)

    async def send_and_wait(
        self, topic: str, value: bytes, *, key: bytes | None = None, headers: Headers = ()
    ) -> None:
        await (await self.send(topic, value, key=key, headers=headers))

    async def flush(self) -> None:
        with translate_errors("flushing producer"):
            await self._client.flush()

    # -- transactions (exactly-once) ------------------------------------------
    async def begin_transaction(self) -> None:
        """Open a transaction unless one is open: every send until the commit joins it."""
        if self._in_transaction:
            return
        with translate_errors(f"beginning a transaction ({self._transactional_id})"):
            await self._client.begin_transaction()
        self._in_transaction = True

    async def commit_transaction(self, offsets: dict[TopicPartition, int], group_id: str) -> None:
        """Commit the open transaction with the consumer's ``offsets`` (next to read) in it;
        offsets with no transaction open get one of their own."""
        if not self._in_transaction:
            if not offsets:
                return
            await self.begin_transaction()
        with translate_errors(f"committing a transaction ({self._transactional_id})"):
            if offsets:
                await self._client.send_offsets_to_transaction(
                    {tp: OffsetAndMetadata(o, "") for tp, o in offsets.items()}, group_id
                )
            await self._client.commit_transaction()
        self._in_transaction = False

    async def abort_transaction(self) -> None:
        if not self._in_transaction:
            return
        self._in_transaction = False
        with translate_errors(f"aborting a transaction ({self._transactional_id})"):
            await self._client.abort_transaction()

    @staticmethod
    async def _acknowledged(topic: str, future: Awaitable[object]) -> None:
        with translate_errors(f"producing to {topic}"):
            await future
