"""The sink interface: one call per scored batch, returning only once the writes are durable."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from monitor.schemas import Alert, Score

__all__ = ["Delivery", "Sink"]


@dataclass
class Delivery:
    """What one sink did with a batch, for metrics and logs."""

    sink: str
    written: int = 0
    duplicates: int = 0
    suppressed: int = 0
    details: dict[str, int] = field(default_factory=dict)


class Sink(Protocol):
    name: str

    async def write(self, alerts: Sequence[Alert], scores: Sequence[Score]) -> Delivery:
        """Deliver, or raise SinkBackpressure; must be safe to call again with the same batch."""
        ...
