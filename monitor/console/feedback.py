"""Verdicts as data: the JSONL export the trainer reads, and models judged on reviewed alerts.

Export: one JSON object per verdict with ``text``, ``verdict`` (lovelorn / not_lovelorn /
unsure) and ``comment_id``; a recipe source reads it with ``label_column = "verdict"`` and
``label_map = {lovelorn = 1, not_lovelorn = 0}`` (unsure is unmapped, so dropped). User ids
are left out: training needs the text, not who wrote it.

Compare: candidate and current model score the same reviewed texts; precision is measured
only on verdicts neither model trained or validated on (their ``split.jsonl``), so a model
retrained on verdicts is not graded on its own training data. Flips count the reviewed
verdicts whose alert decision the candidate would change (what replay's diff would show on
reviewed comments).
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from monitor.console.stats import wilson
from monitor.model import PaddlePredictor, Predictor, registry_for
from monitor.schemas import Verdict
from monitor.scoring.decider import Decider, flip
from monitor.settings import Settings
from monitor.store import Store, VerdictLog
from monitor.text import clean_text

__all__ = ["Comparison", "Flips", "ModelOnVerdicts", "compare", "export_verdicts", "judge"]

EXPORTED = ("comment_id", "alert_id", "lane", "text", "verdict", "score", "model_version",
            "policies", "note", "urgent", "reviewer", "team", "at")  # fmt: skip


async def export_verdicts(
    store: Store, out: Path, lanes: Sequence[str] = ("alerts", "sample")
) -> Counter[str]:
    """Write every verdict of ``lanes`` to ``out`` (replaced atomically); counts by verdict."""
    counts: Counter[str] = Counter()
    tmp = out.with_name(f".{out.name}.tmp")
    with tmp.open("w", encoding="utf-8") as handle:
        async for _, verdict in VerdictLog(store).scan():
            if verdict.lane in lanes:
                row = verdict.model_dump(mode="json", include=set(EXPORTED))
                handle.write(json.dumps(row, ensure_ascii=False) + "\n")
                counts[verdict.verdict] += 1
    tmp.replace(out)
    return counts


def _key(text: str) -> str:
    """The trainer's holdout key (``trainer.data.Exclusion.key``): cleaned, no spaces."""
    return "".join(clean_text(text).split()).lower()


@dataclass(frozen=True)
class ModelOnVerdicts:
    version: str
    threshold: float
    alerts: int  # reviewed texts it would alert on
    true_alerts: int  # … that reviewers called lovelorn
    lovelorn: int  # lovelorn verdicts in the set

    @property
    def precision(self) -> float | None:
        return self.true_alerts / self.alerts if self.alerts else None

    @property
    def interval(self) -> tuple[float, float]:
        return wilson(self.true_alerts, self.alerts)


@dataclass(frozen=True)
class Flips:
    caught: int = 0  # lovelorn verdicts the candidate alerts on and current does not
    missed: int = 0  # lovelorn verdicts current alerts on and the candidate does not
    cleared: int = 0  # not-lovelorn verdicts current alerts on and the candidate does not
    raised: int = 0  # not-lovelorn verdicts the candidate alerts on and current does not

    @property
    def total(self) -> int:
        return self.caught + self.missed + self.cleared + self.raised


@dataclass(frozen=True)
class Comparison:
    policy: str
    reviewed: int  # lovelorn / not-lovelorn verdicts with text, latest per comment
    held_out: int  # … that neither model trained or validated on
    candidate: ModelOnVerdicts
    current: ModelOnVerdicts
    flips: Flips


def judge(
    verdicts: Sequence[Verdict],
    scores: Sequence[Sequence[float]],
    thresholds: Sequence[float],
    versions: Sequence[str],
    trained: set[str],
    policy: str = "default",
) -> Comparison:
    """The pure part: scores[0] are the candidate's, scores[1] current's, per verdict."""
    labels = [v.label for v in verdicts]
    new = [s >= thresholds[0] for s in scores[0]]
    old = [s >= thresholds[1] for s in scores[1]]
    fresh = [_key(v.text or "") not in trained for v in verdicts]

    def measure(i: int, alerted: list[bool]) -> ModelOnVerdicts:
        rows = [(a, y) for a, y, f in zip(alerted, labels, fresh, strict=True) if f]
        return ModelOnVerdicts(
            versions[i], thresholds[i], sum(a for a, _ in rows),
            sum(1 for a, y in rows if a and y == 1), sum(1 for _, y in rows if y == 1),
        )  # fmt: skip

    flips = Counter(
        kind
        for a, b, y in zip(new, old, labels, strict=True)
        if (kind := flip(a, b, y == 1)) is not None
    )
    return Comparison(
        policy, len(verdicts), sum(fresh), measure(0, new), measure(1, old), Flips(**flips)
    )


def _trained_texts(settings: Settings, version: str) -> set[str] | None:
    """Keys of every text a version trained or validated on; None without a split file."""
    path = registry_for(settings).path(version) / "split.jsonl"
    if not path.is_file():
        return None
    keys = set()
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            row = json.loads(line)
            if row.get("part") in ("train", "validation"):
                keys.add(_key(row.get("text", "")))
    return keys


async def compare(
    settings: Settings,
    verdicts: Sequence[Verdict],
    candidate: str,
    against: str = "current",
    *,
    policy: str = "default",
    load: Callable[[str], Awaitable[Predictor]] | None = None,
) -> tuple[Comparison, list[str]]:
    """Both models on the reviewed verdicts; also the versions whose training data is unknown."""
    registry = registry_for(settings)
    versions = [registry.resolve(candidate), registry.resolve(against)]
    latest = {v.comment_id: v for v in verdicts if v.label is not None and v.text}
    usable = list(latest.values())
    trained: set[str] = set()
    unknown = []
    for version in dict.fromkeys(versions):
        texts = _trained_texts(settings, version)
        if texts is None:
            unknown.append(version)
        trained |= texts or set()

    async def paddle(version: str) -> Predictor:
        return await asyncio.to_thread(
            PaddlePredictor.from_registry, registry, settings.scorer, version
        )

    decider = Decider(settings.alerts, max_text_chars=settings.scorer.max_text_chars)
    scores, thresholds = [], []
    for version in versions:
        predictor = await (load or paddle)(version)
        try:
            texts = [(v.text or "")[: settings.scorer.max_text_chars] for v in usable]
            scores.append([float(p) for p in await predictor.predict(texts)] if texts else [])
            thresholds.append(decider.thresholds(predictor.manifest, policy).by_policy[policy])
        finally:
            predictor.close()
    return judge(usable, scores, thresholds, versions, trained, policy), unknown
