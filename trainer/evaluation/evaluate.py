"""Evaluate a registered model on labelled data through the serving path (the exported predictor).

Besides the paper's metrics it answers the question that matters for this product: does
the model flag heartbreak, or every negative feeling? With a group column (e.g. the corpus
emotion) it reports the flag rate of each group among non-lovelorn texts, and it lists the
worst false alerts and misses so people can see what goes wrong.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from monitor.model import PaddlePredictor, Thresholds, policy_threshold, registry_for
from monitor.settings import Settings
from monitor.text import clean_text
from trainer.errors import DataError
from trainer.evaluation.metrics import (
    average_precision,
    binary_report,
    f1_of,
    pr_curve,
    precision_at_recall,
)
from trainer.evaluation.report import plot_confusion, plot_pr, write_report

__all__ = [
    "DEV_HALF_SEED",
    "EvalItem",
    "evaluate_items",
    "load_dev_labels",
    "report_scores",
    "split_dev_halves",
]

# The seed of the dev halves this project chooses on (A) and reports on (B).
DEV_HALF_SEED = 20261126

EXAMPLES = 15


@dataclass(frozen=True)
class EvalItem:
    text: str
    label: int
    group: str = ""
    id: str = ""
    ambiguous: bool = False


def load_dev_labels(labels_path: Path, corpus_path: Path) -> list[EvalItem]:
    """Our lovelorn dev labels (id, lovelorn, ambiguous; header) joined on id with the OCEMOTION
    corpus (id, text, emotion; no header); the emotion becomes the group."""
    for path in (labels_path, corpus_path):
        if not path.is_file():
            raise DataError(f"{path} does not exist")
    try:
        with corpus_path.open(encoding="utf-8", newline="") as handle:
            corpus = {
                row[0]: (row[1], row[2])
                for row in csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
                if len(row) >= 3
            }
        with labels_path.open(encoding="utf-8", newline="") as handle:
            reader = csv.DictReader(handle, delimiter="\t")
            missing = {"id", "lovelorn"} - set(reader.fieldnames or [])
            if missing:
                raise DataError(f"{labels_path}: missing column(s) {', '.join(sorted(missing))}")
            rows = list(reader)
    except UnicodeDecodeError as exc:
        raise DataError(f"not UTF-8 text: {exc.reason}") from None
    items, unknown = [], 0
    for row in rows:
        if row["id"] not in corpus:
            unknown += 1
            continue
        text, emotion = corpus[row["id"]]
        items.append(
            EvalItem(
                clean_text(text),
                int(row["lovelorn"]),
                emotion,
                row["id"],
                row.get("ambiguous") == "1",
            )
        )
    if unknown:
        raise DataError(f"{unknown} dev ids are not in {corpus_path}: is it the right corpus file?")
    return items


def evaluate_items(
    settings: Settings,
    version: str,
    items: Sequence[EvalItem],
    out_dir: Path,
    *,
    title: str,
    calibration_fraction: float | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """Score ``items`` and report. With ``calibration_fraction``, a stratified part of the items
    sets every policy's threshold (max F1 for ``default``, the precision target for the
    others) and the metrics come from the rest only — a part never used for any choice."""
    if not items:
        raise DataError("nothing to evaluate")
    registry = registry_for(settings)
    predictor = PaddlePredictor.from_registry(registry, settings.scorer, version)
    try:
        scores = predictor.probabilities([i.text for i in items])
        manifest = predictor.manifest
    finally:
        predictor.close()
    return report_scores(
        settings,
        items,
        scores,
        Thresholds.from_manifest(manifest, settings.alerts).by_policy,
        out_dir,
        title=title,
        name=manifest.version,
        calibration_fraction=calibration_fraction,
        seed=seed,
    )


def report_scores(
    settings: Settings,
    items: Sequence[EvalItem],
    scores: np.ndarray,
    thresholds: dict[str, float],
    out_dir: Path,
    *,
    title: str,
    name: str,
    calibration_fraction: float | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """The report of :func:`evaluate_items` for any scorer's ``scores`` (e.g. a baseline's)."""
    report: dict[str, Any] = {"version": name}
    if calibration_fraction:
        calibration, held_out = _stratified_split(items, calibration_fraction, seed)
        cal_y = np.array([items[i].label for i in calibration])
        thresholds, unreached = _calibrate(thresholds, settings, cal_y, scores[calibration])
        report["calibration"] = {
            "n": len(calibration),
            "positives": int(cal_y.sum()),
            "fraction": calibration_fraction,
            "seed": seed,
            "thresholds": thresholds,
            "precision_target_unreached": unreached,
        }
        items = [items[i] for i in held_out]
        scores = scores[held_out]
    y = np.array([i.label for i in items])
    report |= {"n": len(items), "positives": int(y.sum()), "metrics": {}, "thresholds": thresholds}
    for policy, threshold in sorted(thresholds.items()):
        flagged = scores >= threshold
        entry = binary_report(y, flagged.astype(int))
        lovelorn = entry["per_class"]["lovelorn"]
        entry |= {
            "threshold": threshold,
            "lovelorn_precision": lovelorn["precision"],
            "lovelorn_recall": lovelorn["recall"],
            "lovelorn_f1": lovelorn["f1"],
            "flag_rate_by_group": _flag_rates(items, flagged),
        }
        report["metrics"][policy] = entry
    curve = pr_curve(y, scores)
    report["pr_curve"] = [p.model_dump() for p in curve]  # for bench/compare_pr.py
    report["precision_at_recall"] = {
        f"{r:.1f}": precision_at_recall(curve, r) for r in (0.3, 0.5, 0.6, 0.7, 0.8)
    }
    report["average_precision"] = average_precision(y, scores)
    if any(i.ambiguous for i in items):
        clear = np.array([not i.ambiguous for i in items])
        flagged = scores >= thresholds["default"]
        report["without_ambiguous"] = binary_report(y[clear], flagged[clear].astype(int))[
            "per_class"
        ]["lovelorn"]
    order = np.argsort(-scores)
    report["false_alerts"] = [_example(items[i], scores[i]) for i in order if items[i].label == 0][
        :EXAMPLES
    ]
    report["misses"] = [_example(items[i], scores[i]) for i in order[::-1] if items[i].label == 1][
        :EXAMPLES
    ]
    out_dir.mkdir(parents=True, exist_ok=True)
    default = report["metrics"]["default"]
    plot_confusion(
        default["confusion_matrix"],
        ("normal", "lovelorn"),
        out_dir / "confusion.png",
        f"{title}, threshold {thresholds['default']:.2f}",
    )
    plot_pr(
        {title: curve},
        out_dir / "pr_curve.png",
        f"lovelorn precision–recall: {title}",
        marks=thresholds,
    )
    write_report(
        out_dir,
        report,
        f"Evaluation of {name}: {title}",
        sections=tuple(sorted(thresholds)),
    )
    return report


def split_dev_halves(items: Sequence[EvalItem], seed: int) -> tuple[list[EvalItem], list[EvalItem]]:
    """The dev set's two halves as ``--calibrate-on 0.5 --seed SEED`` makes them: (A, B)."""
    first, second = _stratified_split(items, 0.5, seed)
    return [items[i] for i in first], [items[i] for i in second]


def _stratified_split(
    items: Sequence[EvalItem], fraction: float, seed: int
) -> tuple[list[int], list[int]]:
    """Indices of a calibration part and a held-out part, each with the same share of
    lovelorn and ambiguous items. Members are ordered by id before shuffling, so the same
    seed gives the same parts whatever the file order."""
    import random

    strata: dict[tuple[int, bool], list[int]] = defaultdict(list)
    for index, item in enumerate(items):
        strata[(item.label, item.ambiguous)].append(index)
    calibration: list[int] = []
    rng = random.Random(seed)
    for key in sorted(strata):
        members = sorted(strata[key], key=lambda i: (items[i].id, items[i].text))
        rng.shuffle(members)
        calibration += members[: int(len(members) * fraction)]
    chosen = set(calibration)
    return sorted(calibration), [i for i in range(len(items)) if i not in chosen]


def _calibrate(
    current: dict[str, float], settings: Settings, y: np.ndarray, scores: np.ndarray
) -> tuple[dict[str, float], list[str]]:
    """Each policy's threshold on the calibration part, and the policies whose precision
    target no threshold reached there (they get the strictest one, as in the scorer)."""
    curve = pr_curve(y, scores)
    out, unreached = {}, []
    for policy, threshold in current.items():
        rule = settings.alerts.policies.get(policy)
        if rule is not None and rule.threshold is not None:
            out[policy] = threshold  # a fixed threshold is a decision, not a calibration
        elif rule is not None and rule.min_precision is not None:
            out[policy], reached = policy_threshold(curve, rule.min_precision, threshold)
            if not reached:
                unreached.append(policy)
        else:
            out[policy] = max(curve, key=lambda p: (f1_of(p), p.threshold)).threshold
    return out, unreached


def _flag_rates(items: Sequence[EvalItem], flagged: np.ndarray) -> dict[str, float]:
    """Share of non-lovelorn texts flagged, per group: which negative feelings the model confuses."""
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for item, flag in zip(items, flagged, strict=True):
        if item.label == 0:
            counts[item.group or "all"][0] += int(flag)
            counts[item.group or "all"][1] += 1
    return {group: flagged_n / total for group, (flagged_n, total) in sorted(counts.items())}


def _example(item: EvalItem, score: float) -> dict[str, Any]:
    return {
        "id": item.id,
        "score": round(float(score), 4),
        "group": item.group,
        "ambiguous": item.ambiguous,
        "text": item.text[:140],
    }
