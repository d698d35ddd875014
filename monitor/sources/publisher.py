"""Publish comments to Kafka exactly as the monitor needs: no loss, no duplicates downstream.

Order of a publish (per page of comments):
  1. drop ids already in the seen set (Redis, per post, entries expire after ``seen_ttl_s``)
  2. produce the rest (key = post id) and wait for the broker's acknowledgements; a comment
     too large for the topic goes to the dead-letter topic instead of failing the page
  3. mark every acknowledged (or dead-lettered) comment seen, even when others failed
  4. raise BusError for the rest: the caller retries, and step 1 keeps the marked ones out

A crash between 2 and 3 republishes those comments once (at-least-once); a broker outage
fails step 2, so nothing is marked and nothing is lost.

Lines of a replayed file that are no comment at all go to the same dead-letter topic
(``dead_letter_line``), named by file and line number, so an operator finds them beside
the oversized comments.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

import structlog

from monitor.bus import DeadLetters, Producer, dead_letter_headers, watch_silence
from monitor.errors import BusError
from monitor.metrics import Metrics
from monitor.retry import Retry
from monitor.schemas import Comment, encode
from monitor.settings import KafkaSettings
from monitor.store import Cursors

__all__ = ["Publisher"]

log = structlog.get_logger()
RECORD_OVERHEAD = 1024  # key, headers and batch framing beside the value


class Publisher:
    def __init__(
        self,
        kafka: KafkaSettings,
        producer: Producer,
        cursors: Cursors,
        metrics: Metrics,
        *,
        after_publish: Callable[[], None] | None = None,
    ) -> None:
        """``after_publish`` runs once a page is marked seen (a supervisor's snapshot)."""
        self._topic = kafka.comments_topic
        self._limit = kafka.max_message_bytes - RECORD_OVERHEAD
        self._producer = producer
        self._dead_letters = DeadLetters(
            producer, kafka.dead_letter_topic, Retry("dead letters", timeout_s=0, quiet=True)
        )
        self.cursors = cursors
        self._after_publish = after_publish
        self._published = metrics.counter(
            "comments_published", "Comments acknowledged by the broker", ("source",)
        )
        self._duplicates = metrics.counter(
            "duplicates_skipped", "Comments already published before", ("source",)
        )
        self._dead = metrics.counter(
            "comments_dead_lettered", "Comments sent to the dead-letter topic", ("source",)
        )

    async def publish(self, comments: Sequence[Comment], *, source: str) -> int:
        """Steps 1–4 above; returns how many were new. Raises BusError when some comment was
        not acknowledged (those acknowledged are marked), StoreError for Redis."""
        fresh = await self.cursors.unseen(comments)
        self._duplicates.labels(source).inc(len(comments) - len(fresh))
        if not fresh:
            return 0
        encoded = [encode(c) for c in fresh]
        done: list[Comment] = []
        sent: list[tuple[Comment, asyncio.Future[None]]] = []
        failure: BusError | None = None
        for comment, value in zip(fresh, encoded, strict=True):
            if len(value) > self._limit:
                await self._dead_letter(
                    comment,
                    value,
                    f"record of {len(value)} bytes exceeds kafka.max_message_bytes",
                    source,
                )
                done.append(comment)
                continue
            try:
                ack = await self._producer.send(self._topic, value, key=comment.post_id.encode())
            except BusError as exc:
                failure = exc
                break
            sent.append((comment, asyncio.ensure_future(ack)))
        with watch_silence(f"acknowledging {len(sent)} comments"):
            results = await asyncio.gather(*(f for _, f in sent), return_exceptions=True)
        published = 0
        for (comment, _), result in zip(sent, results, strict=True):
            if result is None:
                done.append(comment)
                published += 1
            elif isinstance(result, BusError) and not result.retriable:
                value = encode(comment)
                await self._dead_letter(comment, value, str(result), source)
                done.append(comment)
            elif isinstance(result, BaseException):
                failure = failure or (
                    result if isinstance(result, BusError) else BusError(str(result))
                )
        await self.cursors.mark_seen(done)
        self._published.labels(source).inc(published)
        if self._after_publish is not None:
            self._after_publish()
        if failure is not None:
            raise failure
        return published

    async def dead_letter_line(
        self, value: bytes, reason: str, *, file: str, line: int, size: int, source: str
    ) -> None:
        """One line of a comment file that is not a comment: its bytes (``size`` long before
        any cut), the error ``FILE:LINE: reason`` (so the one log line names the line too),
        and the file name and 1-based line number as headers of their own. Keyed by the file
        name, so one file's bad lines keep their order. Raises BusError."""
        headers = dead_letter_headers(f"{file}:{line}: {reason}", topic=self._topic)
        headers += [("source_file", file.encode()), ("source_line", str(line).encode())]
        if size > len(value):
            headers.append(("truncated_from", str(size).encode()))
        await self._dead_letters.send(value, file.encode(), headers)
        self._dead.labels(source).inc()

    async def _dead_letter(self, comment: Comment, value: bytes, reason: str, source: str) -> None:
        await self._dead_letters.send(
            value, comment.post_id.encode(), dead_letter_headers(reason, topic=self._topic)
        )
        self._dead.labels(source).inc()
        log.warning("comment_dead_lettered", comment_id=comment.comment_id, reason=reason)
