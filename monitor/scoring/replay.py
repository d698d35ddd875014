"""Re-score history: a topic range with any model version, and what a model refresh changes.

Replay reads with manual partition assignment and no consumer group, so it cannot move
any group's committed offsets — the live scorers carry on untouched. With ``compare``,
every comment is scored by both versions and the alert decisions are diffed: the
question users ask after a model refresh is "which alerts appear, which disappear".
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

import structlog
from tqdm import tqdm

from monitor.bus import Consumer, Producer, TopicPartition
from monitor.errors import ConfigError, SchemaError
from monitor.model import Predictor, open_predictor, registry_for
from monitor.schemas import Comment, decode
from monitor.scoring.decider import Decider, flip
from monitor.settings import Settings
from monitor.sinks import KafkaSink, RedisSink, Sink
from monitor.store import Store

__all__ = ["Bound", "ReplayReport", "Replayer", "parse_bound"]

log = structlog.get_logger()
Bound = int | datetime | None
EXAMPLES = 10
QUIET_POLLS = 4


@dataclass
class ModelDecisions:
    version: str
    threshold: float
    alerts: int = 0


@dataclass
class ReplayReport:
    topic: str
    records: int = 0
    scored: int = 0
    invalid: int = 0
    models: list[ModelDecisions] = field(default_factory=list)
    added: int = 0
    removed: int = 0
    unchanged_alerts: int = 0
    reviewed_flips: dict[str, int] = field(default_factory=dict)  # see decider.flip
    added_examples: list[dict[str, Any]] = field(default_factory=list)
    removed_examples: list[dict[str, Any]] = field(default_factory=list)
    partitions: dict[str, list[int]] = field(
        default_factory=dict
    )  # "topic[p]" -> [first, last] offset read

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class Replayer:
    def __init__(self, settings: Settings, *, policy: str = "default") -> None:
        self.settings = settings
        self._registry = registry_for(settings)
        self._policy = policy
        self._decider = Decider(settings.alerts, max_text_chars=settings.scorer.max_text_chars)

    async def run(
        self,
        topic: str,
        start: Bound,
        end: Bound,
        version: str,
        *,
        compare: str | None = None,
        to_topic: str | None = None,
        to_redis: bool = False,
        progress: bool = False,
        predictors: Sequence[Predictor] | None = None,
        verdicts: Mapping[str, bool] | None = None,
    ) -> ReplayReport:
        """``verdicts`` (comment id → reviewed lovelorn?) lets a comparison count the reviewed
        decisions the candidate would flip."""
        reviewed = verdicts or {}
        loaded = (
            list(predictors)
            if predictors
            else [
                await asyncio.to_thread(open_predictor, self._registry, self.settings.scorer, v)
                for v in ([version] + ([compare] if compare else []))
            ]
        )
        report = ReplayReport(topic)
        for predictor in loaded:
            threshold = self._decider.thresholds(predictor.manifest, self._policy)
            report.models.append(
                ModelDecisions(predictor.version, threshold.by_policy[self._policy])
            )
        producer = Producer(self.settings.kafka, client_id="lovelorn-replay") if to_topic else None
        store = Store(self.settings.redis) if to_redis else None
        sinks: list[Sink] = []
        if producer is not None and to_topic:
            sinks.append(
                KafkaSink(self.settings.kafka, producer, emit_scores=False, alerts_topic=to_topic)
            )
        if store is not None:
            sinks.append(RedisSink(store.with_prefix(store.keys.replay().prefix), cooldown_s=0))
        try:
            if producer:
                await producer.start()
            async with Consumer(
                self.settings.kafka, group_id=None, client_id="lovelorn-replay"
            ) as consumer:
                batch: list[Comment] = []
                async for record in self._records(consumer, topic, start, end, report, progress):
                    report.records += 1
                    try:
                        comment = decode(
                            Comment, record.value, max_bytes=self.settings.kafka.max_message_bytes
                        )
                    except SchemaError:
                        report.invalid += 1
                        continue
                    batch.append(self._decider.prepare(comment))
                    if len(batch) >= self.settings.scorer.max_batch:
                        await self._score(batch, loaded, report, sinks, reviewed)
                        batch = []
                if batch:
                    await self._score(batch, loaded, report, sinks, reviewed)
        finally:
            if producer:
                await producer.stop()
            if store is not None:
                await store.aclose()
            if not predictors:
                for predictor in loaded:
                    predictor.close()
        return report

    async def _records(
        self,
        consumer: Consumer,
        topic: str,
        start: Bound,
        end: Bound,
        report: ReplayReport,
        progress: bool,
    ):  # type: ignore[no-untyped-def]
        tps = await consumer.partitions(topic)
        if not tps:
            raise ConfigError(f"topic {topic!r} does not exist or has no partitions")
        consumer.assign(tps)
        await consumer.seek_to_beginning(tps)
        if isinstance(start, int):
            for tp in tps:
                consumer.seek(tp, start)
        elif isinstance(start, datetime):
            found = await consumer.offsets_for_times(
                {tp: int(start.timestamp() * 1000) for tp in tps}
            )
            for tp, offset in found.items():
                if offset is not None:
                    consumer.seek(
                        tp, offset
                    )  # batch-granular on some brokers: filtered by timestamp below
        start_ms = int(start.timestamp() * 1000) if isinstance(start, datetime) else None
        end_ms = int(end.timestamp() * 1000) if isinstance(end, datetime) else None
        done: set[TopicPartition] = set()
        bar = tqdm(desc=f"replay {topic}", unit="rec", disable=not progress)
        quiet = 0
        try:
            while len(done) < len(tps) and quiet < QUIET_POLLS:
                fetched = await consumer.getmany(timeout_ms=500, max_records=500)
                records = [r for rs in fetched.values() for r in rs]
                quiet = 0 if records else quiet + 1
                for tp in tps - done:  # finished when the partition's end is reached
                    highwater = consumer.highwater(tp)
                    if (
                        highwater is not None
                        and await consumer.position(tp) >= highwater
                        and not fetched.get(tp)
                    ):
                        done.add(tp)
                for record in records:
                    if record.tp in done:
                        continue
                    if (isinstance(end, int) and record.offset >= end) or (
                        end_ms is not None and record.timestamp_ms > end_ms
                    ):
                        done.add(record.tp)
                        continue
                    if start_ms is not None and record.timestamp_ms < start_ms:
                        continue
                    span = report.partitions.setdefault(
                        f"{record.topic}[{record.partition}]", [record.offset, record.offset]
                    )
                    span[1] = record.offset
                    bar.update(1)
                    yield record
        finally:
            bar.close()

    async def _score(
        self,
        batch: list[Comment],
        predictors: list[Predictor],
        report: ReplayReport,
        sinks: list[Sink],
        reviewed: Mapping[str, bool],
    ) -> None:
        scores = [await p.predict([c.text for c in batch]) for p in predictors]
        report.scored += len(batch)
        decisions = []
        for predictor, probs, model in zip(predictors, scores, report.models, strict=True):
            alerts = [
                d.alert
                for d in self._decider.decide_all(batch, probs, predictor.manifest, self._policy)
            ]
            model.alerts += sum(a is not None for a in alerts)
            decisions.append(alerts)
        primary = [a for a in decisions[0] if a is not None]
        for sink in sinks:
            if primary:
                await sink.write(primary, [])
        if len(decisions) == 2:
            for i, comment in enumerate(batch):
                new, old = decisions[0][i] is not None, decisions[1][i] is not None
                example = {
                    "comment_id": comment.comment_id,
                    "text": comment.text[:140],
                    "score_new": round(float(scores[0][i]), 4),
                    "score_old": round(float(scores[1][i]), 4),
                }
                if new and not old:
                    report.added += 1
                    if len(report.added_examples) < EXAMPLES:
                        report.added_examples.append(example)
                elif old and not new:
                    report.removed += 1
                    if len(report.removed_examples) < EXAMPLES:
                        report.removed_examples.append(example)
                elif new and old:
                    report.unchanged_alerts += 1
                if comment.comment_id in reviewed:
                    kind = flip(new, old, reviewed[comment.comment_id])
                    if kind is not None:
                        report.reviewed_flips[kind] = report.reviewed_flips.get(kind, 0) + 1


def parse_bound(text: str | None) -> Bound:
    """An offset (digits) or an ISO-8601 time (a bare date means its midnight UTC)."""
    if text is None:
        return None
    if text.isdigit():
        return int(text)
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise ConfigError(
            f"{text!r} is neither an offset nor an ISO-8601 time such as 2026-11-22T10:00:00+08:00"
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
