"""What ``lovelorn run``'s status line counts, read from a child's Prometheus exposition
text (a scrape of its /metrics, or the snapshot it leaves as it exits)."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client.parser import text_string_to_metric_families

__all__ = ["Counts", "parse_counts"]


@dataclass
class Counts:
    published: float = 0.0
    scored: float = 0.0
    batches: float = 0.0
    batch_sum: float = 0.0
    alerts: float = 0.0
    dead_letters: float = 0.0
    lag: float = 0.0  # a gauge: only the running scorer's latest value counts

    def __add__(self, other: Counts) -> Counts:
        summed = {k: getattr(self, k) + getattr(other, k) for k in vars(self) if k != "lag"}
        return Counts(**summed, lag=self.lag + other.lag)


def parse_counts(text: str) -> Counts:
    """The status line's counters from Prometheus exposition text."""
    counts = Counts()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            name, labels, value = sample.name, sample.labels, sample.value
            if name == "lovelorn_comments_published_total":
                counts.published += value
            elif name == "lovelorn_comments_scored_total":
                counts.scored += value
            elif name == "lovelorn_batch_size_count":
                counts.batches += value
            elif name == "lovelorn_batch_size_sum":
                counts.batch_sum += value
            elif name == "lovelorn_alerts_total" and labels == {
                "sink": "redis",
                "outcome": "written",
            }:
                counts.alerts += value
            elif name in ("lovelorn_dead_letters_total", "lovelorn_comments_dead_lettered_total"):
                counts.dead_letters += value
            elif name == "lovelorn_lag":
                counts.lag += value
    return counts
