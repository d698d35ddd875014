"""Alerts (key = user id) and, optionally, every score to Kafka; acks=all before returning.

With exactly-once each record goes to the producer ``route`` names for its comment: the
transactional producer of the input partition the comment was read from, so it becomes
visible only with that partition's offset. A comment whose partition is no longer this
scorer's (route None, or its producer fenced) is skipped: the partition's new owner reads
it again and writes it in its own transaction. Retrying those writes here could only add
copies to a transaction that will never commit, or hang the batch.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence

from monitor.bus import Fenced, Producer, watch_silence
from monitor.errors import BusError, SinkBackpressure
from monitor.schemas import Alert, Score, encode
from monitor.settings import KafkaSettings
from monitor.sinks.base import Delivery

__all__ = ["KafkaSink"]

Route = Callable[[str], Producer | None]


class KafkaSink:
    name = "kafka"

    def __init__(
        self,
        kafka: KafkaSettings,
        producer: Producer | None = None,
        *,
        emit_scores: bool,
        alerts_topic: str | None = None,
        route: Route | None = None,
    ) -> None:
        """``producer`` is shared and owned by the caller; ``route`` instead picks one per
        comment id (exactly-once: ``Checkpoint.producer_for``). ``alerts_topic`` overrides
        the settings' (replay writes to a topic of its choice)."""
        if (producer is None) == (route is None):
            raise ValueError("KafkaSink needs a producer or a route, exactly one")
        self._kafka = kafka
        self._route: Route = route or (lambda _comment_id: producer)
        self._emit_scores = emit_scores
        self._alerts_topic = alerts_topic or kafka.alerts_topic

    async def write(self, alerts: Sequence[Alert], scores: Sequence[Score]) -> Delivery:
        sends = [
            (
                alert.comment_id,
                self._alerts_topic,
                encode(alert),
                (alert.user_id or alert.comment_id).encode(),
                [
                    ("alert_id", alert.alert_id.encode()),
                    ("model_version", alert.model_version.encode()),
                ],
            )
            for alert in alerts
        ]
        if self._emit_scores:
            sends += [
                (s.comment_id, self._kafka.scores_topic, encode(s), s.post_id.encode(), [])
                for s in scores
            ]
        try:
            acks = []
            for comment_id, topic, value, key, headers in sends:
                producer = self._route(comment_id)
                if producer is None:
                    continue  # its partition's new owner writes it
                try:
                    ack = await producer.send(topic, value, key=key, headers=headers)
                except Fenced:
                    continue
                acks.append(_unless_fenced(ack))
            with watch_silence(f"acknowledging {len(acks)} records"):
                await asyncio.gather(*acks)
        except BusError as exc:
            raise SinkBackpressure(f"Kafka sink: {exc}", retry_after=1.0) from exc
        return Delivery(
            self.name,
            written=len(alerts),
            details={"scores": len(scores) if self._emit_scores else 0},
        )


async def _unless_fenced(ack: Awaitable[None]) -> None:
    """A fenced producer's record is dropped, not retried (see the module docstring)."""
    try:
        await ack
    except Fenced:
        pass
