"""What the scorer counts: plain counters for the status line and tests, and Prometheus
metrics registered once per process."""

from __future__ import annotations

from collections.abc import Callable, Container
from dataclasses import dataclass, field

from monitor.bus import TopicPartition
from monitor.metrics import Metrics

__all__ = ["ScorerMetrics", "ScorerStats", "publish_fetch_lag"]


@dataclass
class ScorerStats:
    records: int = 0
    scored: int = 0
    alerts: int = 0
    samples: int = 0  # non-alerts sent to the console's review lane
    dead_letters: int = 0
    batches: int = 0
    last_batch_size: int = 0
    swaps: int = 0
    lag: dict[str, int] = field(default_factory=dict)
    model_version: str = ""


class ScorerMetrics:
    def __init__(self, m: Metrics) -> None:
        self.records = m.counter("records_in", "Records fetched from the comments topic")
        self.scored = m.counter("comments_scored", "Comments scored and delivered")
        self.dead = m.counter("dead_letters", "Records sent to the dead-letter topic")
        self.batch = m.sizes("batch_size", "Comments per scored micro-batch")
        self.infer = m.latency("inference_seconds", "Model time per micro-batch")
        self.e2e = m.latency("end_to_end_seconds", "Alert emitted minus comment fetched")
        self.alerts = m.counter("alerts", "Alerts handled by each sink", ("sink", "outcome"))
        self.samples = m.counter("review_samples", "Non-alerting comments sampled for review")
        self.backpressure = m.counter(
            "sink_backpressure", "Sink write attempts that failed and were retried", ("sink",)
        )
        self.lag = m.gauge("lag", "End of partition minus committed offset", ("topic", "partition"))
        self.paused = m.gauge("fetch_paused", "1 while fetching is paused for backpressure")
        self.model = m.gauge("model_info", "1 for the model version being served", ("version",))


def publish_fetch_lag(
    unfetched: dict[TopicPartition, int],
    pending: Callable[[TopicPartition], int],
    measured: Container[TopicPartition],
    stats: ScorerStats,
    metrics: ScorerMetrics,
) -> None:
    """Lag from the fetches, for partitions no commit has measured yet (a commit measures
    end minus committed offset): records not fetched plus records fetched and not done.
    Without it the status line says "lag 0" until the first commit."""
    for tp, waiting in unfetched.items():
        if tp in measured:
            continue
        lag = waiting + pending(tp)
        stats.lag[f"{tp.topic}[{tp.partition}]"] = lag
        metrics.lag.labels(tp.topic, str(tp.partition)).set(lag)
