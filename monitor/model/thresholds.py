"""From a model's validation PR curve to per-consumer thresholds.

Care services and ad services want different trade-offs, so each alert policy either
names a threshold or a precision target that the curve turns into one. A score satisfies
every policy whose threshold it reaches; ``default`` is the model's own threshold.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import structlog

from monitor.model.manifest import Manifest, PRPoint
from monitor.settings import AlertSettings

__all__ = [
    "Thresholds",
    "average_precision",
    "policy_threshold",
    "pr_curve",
    "threshold_for_precision",
]

log = structlog.get_logger()


def pr_curve(y_true: np.ndarray, scores: np.ndarray) -> list[PRPoint]:
    """Precision and recall of the positive class when each distinct score is the lowest one
    predicted positive (predict positive when score >= threshold), from the highest down."""
    y_true = np.asarray(y_true, dtype=int)
    scores = np.asarray(scores, dtype=float)
    if not len(scores):
        return []
    order = np.argsort(-scores, kind="stable")
    s, t = scores[order], y_true[order]
    tp = np.cumsum(t)
    fp = np.cumsum(1 - t)
    positives = max(int(t.sum()), 1)
    last = np.r_[np.nonzero(np.diff(s))[0], len(s) - 1]  # last index of each distinct score
    # Each threshold sits halfway to the next lower score (to 0 below the lowest), not on a
    # score: a decision then survives numerical noise (another CPU's kernels, bf16, a
    # re-export) smaller than half the gap, and every validation decision stays the same.
    below = np.r_[s[last[1:]], min(float(s[-1]), 0.0)]
    return [
        PRPoint(
            threshold=float((s[i] + low) / 2),
            precision=float(tp[i] / (tp[i] + fp[i])),
            recall=float(tp[i] / positives),
        )
        for i, low in zip(last, below, strict=True)
    ]


def average_precision(y_true: np.ndarray, scores: np.ndarray) -> float:
    """Mean of the precision at each lovelorn text's rank (ties broken against us: the same
    figure as scikit-learn's ``average_precision_score``). Vectorised: the cascade's band
    search calls it thousands of times."""
    t = np.asarray(y_true, dtype=int)
    if not t.sum():
        return 0.0
    order = np.argsort(-np.asarray(scores, dtype=float), kind="stable")
    s, t = np.asarray(scores, dtype=float)[order], t[order]
    last = np.r_[np.nonzero(np.diff(s))[0], len(s) - 1]  # last index of each distinct score
    tp = np.cumsum(t)[last]
    return float(np.sum(np.diff(np.r_[0, tp]) / t.sum() * (tp / (last + 1))))


def threshold_for_precision(curve: Sequence[PRPoint], min_precision: float) -> float | None:
    """The threshold with the most validation recall among those reaching ``min_precision``
    (the higher threshold on ties); None when no threshold gets there."""
    reaching = [p for p in curve if p.precision >= min_precision]
    if not reaching:
        return None
    return max(reaching, key=lambda p: (p.recall, p.threshold)).threshold


def policy_threshold(
    curve: Sequence[PRPoint], min_precision: float, default: float
) -> tuple[float, bool]:
    """An alert policy's threshold and whether it reaches ``min_precision``. When no threshold
    does, the strictest one seen (``default`` on an empty curve): a consumer that asks for
    precision would rather get too few alerts than a lenient threshold's flood."""
    found = threshold_for_precision(curve, min_precision)
    if found is not None:
        return found, True
    return max((p.threshold for p in curve), default=default), False


@dataclass(frozen=True)
class Thresholds:
    by_policy: dict[str, float]

    @classmethod
    def from_manifest(cls, manifest: Manifest, alerts: AlertSettings) -> Thresholds:
        out = {"default": manifest.threshold}
        for name, policy in alerts.policies.items():
            if policy.threshold is not None:
                out[name] = policy.threshold
            elif policy.min_precision is not None:
                found, reached = policy_threshold(
                    manifest.validation_pr, policy.min_precision, manifest.threshold
                )
                if not reached:
                    log.warning(
                        "policy_precision_unreachable",
                        policy=name,
                        min_precision=policy.min_precision,
                        model=manifest.version,
                        threshold=found,
                    )
                out[name] = found
        return cls(out)

    @property
    def lowest(self) -> float:
        return min(self.by_policy.values())

    def satisfied(self, score: float) -> list[str]:
        return sorted(name for name, threshold in self.by_policy.items() if score >= threshold)
