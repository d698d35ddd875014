"""Alerts (key = user id) and, optionally, every score to Kafka; acks=all before returning."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from monitor.bus import Producer
from monitor.errors import BusError, SinkBackpressure
from monitor.schemas import Alert, Score, encode
from monitor.settings import KafkaSettings
from monitor.sinks.base import Delivery

__all__ = ["KafkaSink"]


class KafkaSink:
    name = "kafka"

    def __init__(
        self,
        kafka: KafkaSettings,
        producer: Producer,
        *,
        emit_scores: bool,
        alerts_topic: str | None = None,
    ) -> None:
        """``producer`` is shared and owned by the caller; ``alerts_topic`` overrides the
        settings' (replay writes to a topic of its choice)."""
        self._kafka = kafka
        self._producer = producer
        self._emit_scores = emit_scores
        self._alerts_topic = alerts_topic or kafka.alerts_topic

    async def write(self, alerts: Sequence[Alert], scores: Sequence[Score]) -> Delivery:
        try:
            acks = [
                await self._producer.send(
                    self._alerts_topic,
                    encode(alert),
                    key=(alert.user_id or alert.comment_id).encode(),
                    headers=[
                        ("alert_id", alert.alert_id.encode()),
                        ("model_version", alert.model_version.encode()),
                    ],
                )
                for alert in alerts
            ]
            if self._emit_scores:
                acks += [
                    await self._producer.send(
                        self._kafka.scores_topic, encode(score), key=score.post_id.encode()
                    )
                    for score in scores
                ]
            await asyncio.gather(*acks)
        except BusError as exc:
            raise SinkBackpressure(f"Kafka sink: {exc}", retry_after=1.0) from exc
        return Delivery(
            self.name,
            written=len(alerts),
            details={"scores": len(scores) if self._emit_scores else 0},
        )
