"""A thin producer: acks=all, optional idempotence, optional transactions (real Kafka only),
errors as BusError.

A transactional producer opens its transaction on the first send after a commit or an
abort, so every writer (alerts, scores, dead letters) joins whatever transaction is open
without knowing about it. Once the broker *fences* it — another producer started with
the same transactional id, or its transaction outlived ``transaction_timeout_ms`` — it
can never write again: every later call raises ``Fenced`` at once (aiokafka would fail on
an assertion instead), and ``fenced`` says so without a call.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Awaitable, Iterator, Sequence
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import ProducerFenced
from aiokafka.structs import OffsetAndMetadata, TopicPartition

from monitor.bus.connection import KafkaClient, connection_options, translate_errors
from monitor.errors import BusError
from monitor.settings import KafkaSettings

__all__ = ["Fenced", "Producer"]

Headers = Sequence[tuple[str, bytes]]


class Fenced(BusError):
    """A newer producer holds this transactional id (or the broker timed the transaction
    out): this one's open transaction is aborted and it may not write again. Never retried."""

    retriable = False


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
        self._fenced = False
        self._role = "producer"

    @property
    def in_transaction(self) -> bool:
        return self._in_transaction

    @property
    def fenced(self) -> bool:
        """True once the broker fenced this producer or its sender failed for good."""
        if self._transactional_id and self._client is not None and not self._fenced:
            manager = getattr(self._client, "_txn_manager", None)
            self._fenced = bool(manager is not None and manager.is_fatal_error())
        return self._fenced

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

    @contextlib.contextmanager
    def _errors(
        self, what: str, *, check: bool = True, silent_after_s: float | None = None
    ) -> Iterator[None]:
        """``translate_errors``, plus: a fenced producer raises ``Fenced`` (and remembers it);
        ``check`` refuses the call up front when it is known to be fenced."""
        if check and self.fenced:
            raise Fenced(f"{what}: producer {self._transactional_id} was fenced")
        try:
            with translate_errors(what, silent_after_s=silent_after_s):
                yield
        except BusError as exc:
            if isinstance(exc.__cause__, ProducerFenced) or self.fenced:
                self._fenced = True
                raise Fenced(str(exc)) from exc.__cause__
            raise

    async def send(
        self, topic: str, value: bytes, *, key: bytes | None = None, headers: Headers = ()
    ) -> Awaitable[None]:
        """Queue one record (in the open transaction, opening one if none is); the returned
        awaitable completes when the broker has acknowledged it."""
        if self._transactional_id:
            await self.begin_transaction()
        with self._errors(f"producing to {topic}"):
            future = await self._client.send(topic, value, key=key, headers=list(headers) or None)
        return self._acknowledged(topic, future)

    async def send_and_wait(
        self, topic: str, value: bytes, *, key: bytes | None = None, headers: Headers = ()
    ) -> None:
        await (await self.send(topic, value, key=key, headers=headers))

    async def flush(self) -> None:
        with self._errors("flushing producer"):
            await self._client.flush()

    # -- transactions (exactly-once) ------------------------------------------
    async def begin_transaction(self) -> None:
        """Open a transaction unless one is open: every send until the commit joins it."""
        if self._in_transaction:
            return
        with self._errors(f"beginning a transaction ({self._transactional_id})"):
            await self._client.begin_transaction()
        self._in_transaction = True

    async def commit_transaction(self, offsets: dict[TopicPartition, int], group_id: str) -> None:
        """Commit the open transaction with the consumer's ``offsets`` (next to read) in it;
        offsets with no transaction open get one of their own."""
        if not self._in_transaction:
            if not offsets:
                return
            await self.begin_transaction()
        with self._errors(f"committing a transaction ({self._transactional_id})"):
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
        with self._errors(f"aborting a transaction ({self._transactional_id})"):
            await self._client.abort_transaction()

    async def _acknowledged(self, topic: str, future: Awaitable[object]) -> None:
        # Always collect the result; one record's wait is not watched: callers watch the
        # whole batch of acks (watch_silence), so a frozen broker is one line, not one per record.
        with self._errors(f"producing to {topic}", check=False, silent_after_s=math.inf):
            await future
