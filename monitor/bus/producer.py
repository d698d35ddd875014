"""A thin producer: acks=all, optional idempotence (real Kafka only), errors as BusError."""

from __future__ import annotations

from collections.abc import Awaitable, Sequence

from aiokafka import AIOKafkaProducer

from monitor.bus.connection import KafkaClient, connection_options, translate_errors
from monitor.settings import KafkaSettings

__all__ = ["Producer"]

Headers = Sequence[tuple[str, bytes]]


class Producer(KafkaClient):
    def __init__(self, kafka: KafkaSettings, *, client_id: str = "lovelorn") -> None:
        self._kafka = kafka
        self._client = AIOKafkaProducer(
            **connection_options(kafka),
            client_id=client_id,
            acks="all",
            enable_idempotence=kafka.enable_idempotence,
            compression_type=None if kafka.compression == "none" else kafka.compression,
            max_request_size=kafka.max_message_bytes,
            linger_ms=5,
        )
        self._role = "producer"

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

    @staticmethod
    async def _acknowledged(topic: str, future: Awaitable[object]) -> None:
        with translate_errors(f"producing to {topic}"):
            await future
