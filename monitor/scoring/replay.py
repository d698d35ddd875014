"""Re-score history: a topic range with any model version, and what a model refresh changes.

Replay reads with manual partition assignment and no consumer group, so it cannot move
any group's committed offsets — the live scorers carry on untouched. With ``compare``,
every comment is scored by both versions and the alert decisions are diffed: the
question users ask after a model refresh is "which alerts appear, which disappear".
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

import structlog
from tqdm import tqdm

from monitor.bus import Consumer, Producer, TopicPartition
from monitor.errors import ConfigError, SchemaError
from monitor.redis_client import connect_redis
from monitor.registry import ModelRegistry
from monitor.schemas import Alert, Comment, decode, encode
from monitor.scoring.policies import AlertBuilder, Thresholds
from monitor.scoring.predictor import PaddlePredictor, Predictor
from monitor.settings import Settings
from monitor.sinks.redis import RedisSink

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
        self._registry = ModelRegistry(settings.registry_root)
        self._policy = policy
        self._alerts = AlertBuilder(settings.alerts)

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
    ) -> ReplayReport:
        loaded = (
            list(predictors)
            if predictors
            else [
                await asyncio.to_thread(
                    PaddlePredictor.from_registry, self._registry, self.settings.scorer, v
                )
                for v in ([version] + ([compare] if compare else []))
            ]
        )
        report = ReplayReport(topic)
        thresholds = []
        for predictor in loaded:
            by_policy = Thresholds.from_manifest(predictor.manifest, self.settings.alerts).by_policy
            if self._policy not in by_policy:
                raise ConfigError(
                    f"unknown policy {self._policy!r}; known: {', '.join(sorted(by_policy))}"
                )
            thresholds.append(Thresholds({self._policy: by_policy[self._policy]}))
            report.models.append(ModelDecisions(predictor.version, by_policy[self._policy]))
        producer = Producer(self.settings.kafka, client_id="lovelorn-replay") if to_topic else None
        redis = connect_redis(self.settings.redis) if to_redis else None
        sink = (
            RedisSink(
                self.settings.redis.model_copy(
                    update={"key_prefix": f"{self.settings.redis.key_prefix}replay:"}
                ),
                redis,
                cooldown_s=0,
            )
            if redis is not None
            else None
        )
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
                    batch.append(comment)
                    if len(batch) >= self.settings.scorer.max_batch:
                        await self._score(
                            batch, loaded, thresholds, report, producer, to_topic, sink
                        )
                        batch = []
                if batch:
                    await self._score(batch, loaded, thresholds, report, producer, to_topic, sink)
        finally:
            if producer:
                await producer.stop()
            if redis is not None:
                await redis.aclose()
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
        thresholds: list[Thresholds],
        report: ReplayReport,
        producer: Producer | None,
        to_topic: str | None,
        sink: RedisSink | None,
    ) -> None:
        texts = [c.text[: self.settings.scorer.max_text_chars] for c in batch]
        scores = [await p.predict(texts) for p in predictors]
        report.scored += len(batch)
        decisions = []
        for predictor, limits, probs, model in zip(
            predictors, thresholds, scores, report.models, strict=True
        ):
            alerts = [
                self._alerts.build(c, float(p), predictor.version, limits)
                for c, p in zip(batch, probs, strict=True)
            ]
            model.alerts += sum(a is not None for a in alerts)
            decisions.append(alerts)
        primary: list[Alert] = [a for a in decisions[0] if a is not None]
        if producer is not None and to_topic and primary:
            acks = [
                await producer.send(to_topic, encode(a), key=(a.user_id or a.comment_id).encode())
                for a in primary
            ]
            await asyncio.gather(*acks)
        if sink is not None and primary:
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
