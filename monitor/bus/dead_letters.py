"""The dead-letter topic: records nobody can process, kept with the reason.

The scorer sends records it cannot read; the poller sends comments too large for the
comments topic. The value is kept (cut at 64 KB) with headers naming the error and the
source position, so an operator can inspect or re-drive it. ``retry`` decides how long a
broker outage is waited out.
"""

from __future__ import annotations

import structlog

from monitor.bus.producer import Producer
from monitor.retry import Retry

__all__ = ["DLQ_VALUE_LIMIT", "DeadLetters", "dead_letter_headers"]

log = structlog.get_logger()
DLQ_VALUE_LIMIT = 64 * 1024


def dead_letter_headers(
    reason: str, *, topic: str, partition: int | None = None, offset: int | None = None
) -> list[tuple[str, bytes]]:
    headers = [("error", reason.encode()[:1000]), ("source_topic", topic.encode())]
    if partition is not None:
        headers.append(("source_partition", str(partition).encode()))
    if offset is not None:
        headers.append(("source_offset", str(offset).encode()))
    return headers


class DeadLetters:
    def __init__(self, producer: Producer, topic: str, retry: Retry) -> None:
        self._producer = producer
        self.topic = topic
        self._retry = retry
        self.sent = 0

    async def send(
        self, value: bytes | None, key: bytes | None, headers: list[tuple[str, bytes]]
    ) -> None:
        value = value or b""
        if len(value) > DLQ_VALUE_LIMIT:
            headers = [*headers, ("truncated_from", str(len(value)).encode())]
            value = value[:DLQ_VALUE_LIMIT]
        await self._retry.call(
            lambda: self._producer.send_and_wait(self.topic, value, key=key, headers=headers)
        )
        self.sent += 1
        # Info, not warning: unscorable input (an emoji-only comment, a poison line) is normal
        # traffic, counted in metrics and kept with its reason in the topic.
        log.info("dead_lettered", topic=self.topic, reason=headers[0][1].decode(errors="replace"))
