"""The soak's audit (bench/soak.py): read every store to its end, work out from the scores
which alerts the scorer owed, and check that each one arrived exactly once.

  - every input comment scored                        (scores topic)
  - expected alerts: every score at or above a policy's threshold (the lowest threshold of
    the model's policies, decided as ``monitor.scoring.decider`` does) owes one alert
  - each expected alert exactly once in Redis, and nothing there that was not owed
  - each expected alert in Kafka; exactly once for a read_committed reader under exactly-once
  - duplicate score records counted
  - a run in which fewer than ``MIN_ALERT_SHARE`` of the comments alert proves nothing: fail

Kafka topics are read to their end offsets: ``end_offsets()`` on Apache Kafka (the last
stable offset for a read_committed reader), the high-water mark of the first fetch on the
embedded broker, whose ``end_offsets()`` is wrong (as ``monitor.bus`` does with
``kafka.lag_from_highwater``). A read that does not get there in time fails the audit.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np

from monitor.bus import Consumer, Record, TopicPartition
from monitor.model import Thresholds, registry_for
from monitor.schemas import Alert, Score, alert_id, decode
from monitor.scoring.decider import Decider
from monitor.settings import KafkaSettings, Settings
from monitor.store import AlertLog, Store

__all__ = [
    "MIN_ALERT_SHARE",
    "Audit",
    "Observed",
    "Stores",
    "TopicRead",
    "collect",
    "drained",
    "group_offsets",
    "judge",
    "read_topic",
    "sample_commits",
    "thresholds_from_registry",
]

# The soak feeds 5 of its 11 texts verbatim from the fixture model's lovelorn examples, so a
# working run alerts on about 45% of its comments (more if the model also takes the sad
# everyday texts for heartbreak); under 20% means the model or the pipeline is not alerting.
MIN_ALERT_SHARE = 0.20


@dataclass
class TopicRead:
    topic: str
    records: list[Record]
    ends: dict[TopicPartition, int]
    complete: bool  # every partition read to its end before the deadline


async def read_topic(
    kafka: KafkaSettings, topic: str, *, read_committed: bool = False, timeout_s: float = 60.0
) -> TopicRead:
    """Every record of ``topic`` from the beginning up to its end as of the start of the read."""
    async with Consumer(
        kafka, group_id=None, client_id="soak-audit", read_committed=read_committed
    ) as consumer:
        tps = await consumer.partitions(topic)
        consumer.assign(tps)
        await consumer.seek_to_beginning(tps)
        ends = {} if kafka.lag_from_highwater else await consumer.end_offsets(tps)
        records: list[Record] = []
        left = set(tps)
        deadline = time.monotonic() + timeout_s
        while left and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=200)
            records += [r for rs in batch.values() for r in rs]
            for tp in list(left):
                if tp not in ends and (highwater := consumer.highwater(tp)) is not None:
                    ends[tp] = highwater
                if tp in ends and await consumer.position(tp) >= ends[tp]:
                    left.discard(tp)
        return TopicRead(topic, records, ends, complete=not left)


async def group_offsets(kafka: KafkaSettings) -> dict[TopicPartition, int | None]:
    """The scorer group's committed offsets on the comments topic."""
    async with Consumer(kafka, group_id=kafka.consumer_group, client_id="soak-audit") as group:
        tps = await group.partitions(kafka.comments_topic)
        return {tp: await group.committed(tp) for tp in tps}


def _comment_ids(read: TopicRead) -> set[str]:
    return {json.loads(r.value)["comment_id"] for r in read.records if r.value is not None}


@dataclass
class Observed:
    """What the soak saw while it ran."""

    inputs: set[str] = field(default_factory=set)  # comment ids fed
    lovelorn_inputs: int = 0  # of them, the fixture model's lovelorn texts
    commit_violations: list[str] = field(default_factory=list)
    max_lag: int = 0
    restarts: dict[str, int] = field(default_factory=dict)


async def sample_commits(kafka: KafkaSettings, seen: Observed, *, read_committed: bool) -> None:
    """Committed offsets must never be ahead of records that have a score (scores are
    written first): the offsets are read first, then the scores and comments to their ends.
    No sample when the broker gives no full picture (down, busy, or a read cut short, which
    would call committed records unscored)."""
    try:
        committed = await group_offsets(kafka)
        if not any(committed.values()):
            return
        scores = await read_topic(
            kafka, kafka.scores_topic, read_committed=read_committed, timeout_s=10
        )
        comments = await read_topic(kafka, kafka.comments_topic, timeout_s=10)
    except Exception:
        return
    if not (scores.complete and comments.complete):
        return
    scored = _comment_ids(scores)
    for record in comments.records:
        position = committed.get(record.tp)
        if position is not None and record.offset < position:
            cid = json.loads(record.value or b"{}").get("comment_id")
            if cid not in scored:
                seen.commit_violations.append(f"{record.where} committed before {cid} was scored")
    for tp, position in committed.items():
        if position is not None and tp in comments.ends:
            seen.max_lag = max(seen.max_lag, comments.ends[tp] - position)


async def drained(kafka: KafkaSettings, inputs: set[str], *, read_committed: bool) -> bool:
    """Every input scored and the whole comments topic committed by the group: every sink,
    Redis included, then has every alert (a record is committed only once all sinks have it)."""
    try:
        scores = await read_topic(kafka, kafka.scores_topic, read_committed=read_committed)
        comments = await read_topic(kafka, kafka.comments_topic)
        committed = await group_offsets(kafka)
    except Exception:
        return False
    return (
        scores.complete
        and comments.complete
        and inputs <= _comment_ids(scores)
        and all((committed.get(tp) or 0) >= end for tp, end in comments.ends.items())
    )


@dataclass
class Stores:
    """What the pipeline left behind, as a reader sees it."""

    scores: list[Score]  # read_committed under exactly-once: the scores that count
    redis_alerts: list[Alert]
    kafka_alerts: list[Alert]  # every record (read_uncommitted)
    committed_alerts: list[Alert]  # a read_committed reader's
    incomplete: list[str] = field(default_factory=list)  # reads that missed their end


async def collect(settings: Settings, *, exactly_once: bool) -> Stores:
    kafka = settings.kafka
    scores = await read_topic(kafka, kafka.scores_topic, read_committed=exactly_once)
    alerts = await read_topic(kafka, kafka.alerts_topic)
    committed = await read_topic(kafka, kafka.alerts_topic, read_committed=True)
    async with Store(settings.redis) as store:
        entries = await AlertLog(store).entries()
    reads = {"scores": scores, "alerts": alerts, "alerts (read_committed)": committed}
    return Stores(
        scores=[decode(Score, r.value) for r in scores.records],
        redis_alerts=[alert for _, alert in entries],
        kafka_alerts=[decode(Alert, r.value) for r in alerts.records],
        committed_alerts=[decode(Alert, r.value) for r in committed.records],
        incomplete=[name for name, read in reads.items() if not read.complete],
    )


def thresholds_from_registry(settings: Settings) -> Callable[[str], Thresholds]:
    """A model version's thresholds, from its manifest and the alert policies, as the scorer
    has them (``Decider.thresholds``)."""
    registry = registry_for(settings)
    decider = Decider(settings.alerts, max_text_chars=settings.scorer.max_text_chars)
    return lambda version: decider.thresholds(registry.manifest(version))


@dataclass
class Audit:
    rows: dict[str, object] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.failures

    def row(self, measure: str, value: object, failure: str | None = None) -> None:
        """A table row; ``failure`` (when given) is a reason the run fails."""
        self.rows[measure] = value
        if failure:
            self.failures.append(failure)

    def table(self) -> str:
        verdict = "PASS" if self.passed else "FAIL: " + "; ".join(self.failures)
        lines = ["| measure | value |", "|---|---|"]
        lines += [f"| {k} | {v} |" for k, v in self.rows.items()]
        return "\n".join([*lines, f"| **verdict** | **{verdict}** |"])


def _copies(alerts: Iterable[Alert]) -> Counter[str]:
    return Counter(a.alert_id for a in alerts)


def _kafka_row(counts: Counter[str], expected: set[str]) -> str:
    records, unique = counts.total(), len(counts)
    return (
        f"{records:,} / {unique:,} / {records - unique:,} duplicates"
        f" / {len(expected - counts.keys()):,} missing"
    )


def judge(
    stores: Stores,
    seen: Observed,
    thresholds: Callable[[str], Thresholds],
    *,
    exactly_once: bool,
) -> Audit:
    """The audit's rows and its verdict."""
    audit = Audit()
    inputs = seen.inputs
    n = len(inputs)
    scored = {s.comment_id for s in stores.scores}
    lost = inputs - scored
    lovelorn = f"{seen.lovelorn_inputs / n:.1%}" if n else "-"
    audit.row("input", f"{n:,} ({lovelorn} of them fixture lovelorn texts)")
    audit.row("scored", f"{len(inputs & scored):,}")
    audit.row(
        "lost",
        f"{len(lost):,}" + (f" (first: {', '.join(sorted(lost)[:5])})" if lost else ""),
        f"{len(lost):,} comments never scored" if lost else None,
    )
    score_copies = Counter((s.comment_id, s.model_version) for s in stores.scores)
    isolation = "read_committed" if exactly_once else "all records"
    audit.row(
        f"score records / duplicates ({isolation})",
        f"{score_copies.total():,} / {score_copies.total() - len(score_copies):,}",
    )
    # Each (comment, model) once: the alert id the decider gives it, when its score reaches
    # any policy's threshold.
    expected = {
        alert_id(s.comment_id, s.model_version)
        for s in stores.scores
        if thresholds(s.model_version).satisfied(s.score)
    }
    share = len(expected) / n if n else 0.0
    audit.row(
        "expected alerts (scores at or above a policy threshold)",
        f"{len(expected):,} ({share:.1%} of input; floor {MIN_ALERT_SHARE:.0%})",
        f"only {share:.1%} of the comments alert (floor {MIN_ALERT_SHARE:.0%}): the run proves nothing"
        if share < MIN_ALERT_SHARE
        else None,
    )
    redis = _copies(stores.redis_alerts)
    missing = expected - redis.keys()
    doubled = sum(c - 1 for c in redis.values())
    audit.row(
        "alerts in Redis / missing / duplicates",
        f"{len(redis):,} / {len(missing):,} / {doubled:,}",
        "; ".join(
            f"{count:,} {what} in Redis"
            for count, what in ((len(missing), "expected alerts missing"), (doubled, "duplicates"))
            if count
        ),
    )
    kafka = _copies(stores.kafka_alerts)
    committed = _copies(stores.committed_alerts)
    counted = committed if exactly_once else kafka  # the reader the guarantee is for
    unexpected = (redis.keys() | counted.keys()) - expected
    audit.row(
        "alerts not owed (Redis or Kafka)",
        f"{len(unexpected):,}",
        f"{len(unexpected):,} alerts without a score at or above a threshold"
        if unexpected
        else None,
    )
    orphans = sum(a.comment_id not in inputs for a in stores.redis_alerts)
    audit.row(
        "alerts without a comment",
        f"{orphans:,}",
        f"{orphans:,} alerts without a comment" if orphans else None,
    )
    lacking = len(expected - counted.keys())
    audit.row(
        "Kafka alert records / unique / duplicates / missing (all records)",
        _kafka_row(kafka, expected),
        None if exactly_once or not lacking else f"{lacking:,} expected alerts missing in Kafka",
    )
    doubled_committed = committed.total() - len(committed)
    audit.row(
        "Kafka alert records / unique / duplicates / missing (read_committed)",
        _kafka_row(committed, expected)
        + ("" if exactly_once else " (no transactions: readers dedupe on alert_id)"),
        "; ".join(
            f"{count:,} {what} for a read_committed reader"
            for count, what in (
                (lacking, "expected alerts missing"),
                (doubled_committed, "duplicates"),
            )
            if count and exactly_once
        ),
    )
    latencies = np.array(
        [(a.emitted_at - a.fetched_at).total_seconds() for a in stores.redis_alerts] or [0.0]
    )
    audit.row(
        "alert latency p50 / p99",
        f"{np.percentile(latencies, 50):.2f} s / {np.percentile(latencies, 99):.2f} s",
    )
    v = len(seen.commit_violations)
    audit.row(
        "commits ahead of processing (sampled)",
        f"{v:,}",
        f"{v:,} commits ahead of processing (first: {seen.commit_violations[0]})" if v else None,
    )
    audit.row("max lag (records)", f"{seen.max_lag:,}")
    audit.row("restarts survived", ", ".join(f"{k} {c}" for k, c in seen.restarts.items()) or "-")
    for read in stores.incomplete:
        audit.failures.append(f"the {read} read stopped before the topic's end")
    return audit
