"""The paper's metrics (macro precision, recall and F1 over both classes), the PR curve and
threshold choice, in plain numpy so the numbers are easy to check by hand."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from monitor.model import PRPoint, average_precision, pr_curve, threshold_for_precision

__all__ = [
    "average_precision",
    "binary_report",
    "choose_threshold",
    "f1_of",
    "pr_curve",
    "precision_at_recall",
    "thin_curve",
]


def _prf(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def binary_report(
    y_true: np.ndarray, y_pred: np.ndarray, labels: tuple[str, str] = ("normal", "lovelorn")
) -> dict[str, Any]:
    """Macro P/R/F1 (unweighted mean over the two classes, as in the paper), accuracy,
    per-class figures and the confusion matrix (rows = truth, columns = prediction)."""
    y_true = np.asarray(y_true, dtype=int)
    y_pred = np.asarray(y_pred, dtype=int)
    matrix = np.zeros((2, 2), dtype=int)
    np.add.at(matrix, (y_true, y_pred), 1)
    per_class = {}
    for k, name in enumerate(labels):
        tp = int(matrix[k, k])
        fp = int(matrix[:, k].sum() - tp)
        fn = int(matrix[k, :].sum() - tp)
        p, r, f = _prf(tp, fp, fn)
        per_class[name] = {"precision": p, "recall": r, "f1": f, "support": int(matrix[k, :].sum())}
    return {
        "macro_precision": float(np.mean([c["precision"] for c in per_class.values()])),
        "macro_recall": float(np.mean([c["recall"] for c in per_class.values()])),
        "macro_f1": float(np.mean([c["f1"] for c in per_class.values()])),
        "accuracy": float((y_true == y_pred).mean()) if len(y_true) else 0.0,
        "per_class": per_class,
        "confusion_matrix": matrix.tolist(),
        "n": len(y_true),
    }


def precision_at_recall(curve: Sequence[PRPoint], recall: float) -> float:
    """The best precision among thresholds reaching ``recall`` (0 when none does)."""
    return max((p.precision for p in curve if p.recall >= recall), default=0.0)


def thin_curve(curve: Sequence[PRPoint], keep: int = 200) -> list[PRPoint]:
    """At most ``keep`` points, so manifests stay small. First the lossless cut: of the points
    sharing a recall, only the highest threshold's, which has that recall's best precision, so
    every policy threshold and max-F1 choice stays the same; only then, evenly spaced."""
    best: list[PRPoint] = []
    for point in curve:  # highest threshold first
        if not best or point.recall > best[-1].recall:
            best.append(point)
    if len(best) <= keep:
        return best
    idx = np.linspace(0, len(best) - 1, keep).round().astype(int)
    return [best[i] for i in sorted(set(idx))]


def choose_threshold(
    y_true: np.ndarray, scores: np.ndarray, *, min_precision: float | None = None
) -> tuple[float, str]:
    """Max F1 on the given (validation) data, or the lowest threshold reaching ``min_precision``.

    Falls back to max F1 (and says so) when no threshold reaches the precision target.
    """
    curve = pr_curve(y_true, scores)
    if not curve:
        return 0.5, "default 0.5 (no validation data)"
    if min_precision is not None:
        threshold = threshold_for_precision(curve, min_precision)
        if threshold is not None:
            return threshold, f"most validation recall at precision >= {min_precision}"
    best = max(curve, key=lambda p: (f1_of(p), p.threshold))
    rule = "max validation F1"
    if min_precision is not None:
        rule += f" (no threshold reached precision {min_precision})"
    return best.threshold, rule


def f1_of(point: PRPoint) -> float:
    total = point.precision + point.recall
    return 2 * point.precision * point.recall / total if total else 0.0
