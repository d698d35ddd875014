"""Scores that mean what they say: Platt scaling on the validation part, its expected
calibration error, and a reliability plot.

A model fine-tuned on subsampled negatives, or distilled from a teacher, ranks well but its
softmax is no probability (the shipped from-scratch model's scores never passed 0.6). A
two-parameter logistic fit of the logit margin on validation maps it to P(lovelorn) at the
training data's prevalence without changing the order; thresholds are then chosen on the
calibrated scores, so precision targets and the "default" threshold read the same scale.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from monitor.model import Calibration

__all__ = ["expected_calibration_error", "fit_platt", "margins", "plot_reliability"]

BINS = 10


def margins(logits: np.ndarray) -> np.ndarray:
    """The lovelorn logit minus the normal one: what Platt scaling maps."""
    return logits[:, 1].astype(np.float64) - logits[:, 0].astype(np.float64)


def expected_calibration_error(labels: np.ndarray, probs: np.ndarray, bins: int = BINS) -> float:
    """Mean |observed rate − mean score| over equal-width score bins, weighted by bin size."""
    labels, probs = np.asarray(labels, float), np.asarray(probs, float)
    if not len(probs):
        return 0.0
    which = np.minimum((probs * bins).astype(int), bins - 1)
    total = 0.0
    for b in range(bins):
        inside = which == b
        if inside.any():
            total += inside.sum() * abs(labels[inside].mean() - probs[inside].mean())
    return float(total / len(probs))


def fit_platt(labels: np.ndarray, margin: np.ndarray, raw: np.ndarray) -> Calibration:
    """A logistic regression of the labels on the margin (sklearn's default L2, which keeps the
    slope finite when validation is separable, as in tiny test sets); ``raw`` are
    the uncalibrated scores, for the before/after error."""
    from sklearn.linear_model import LogisticRegression

    labels = np.asarray(labels, int)
    fit = LogisticRegression(max_iter=1000).fit(margin.reshape(-1, 1), labels)
    a, b = float(fit.coef_[0, 0]), float(fit.intercept_[0])
    after = 1.0 / (1.0 + np.exp(-np.clip(a * margin + b, -500, 500)))
    return Calibration(
        a=a,
        b=b,
        texts=len(labels),
        ece_before=expected_calibration_error(labels, raw),
        ece_after=expected_calibration_error(labels, after),
    )


def plot_reliability(
    curves: dict[str, tuple[np.ndarray, np.ndarray]], path: Path, title: str
) -> None:
    """Observed lovelorn rate against mean score per bin, one line per named score set,
    with each set's expected calibration error in the legend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 5))
    ax.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1, label="perfectly calibrated")
    for name, (labels, probs) in curves.items():
        labels, probs = np.asarray(labels, float), np.asarray(probs, float)
        which = np.minimum((probs * BINS).astype(int), BINS - 1)
        xs, ys, sizes = [], [], []
        for b in range(BINS):
            inside = which == b
            if inside.any():
                xs.append(probs[inside].mean())
                ys.append(labels[inside].mean())
                sizes.append(inside.sum())
        ece = expected_calibration_error(labels, probs)
        ax.plot(xs, ys, marker="o", label=f"{name} (ECE {ece:.3f})")
        for x, y, n in zip(xs, ys, sizes, strict=True):
            ax.annotate(str(n), (x, y), textcoords="offset points", xytext=(4, -10), fontsize=7)
    ax.set_xlabel("mean score in bin")
    ax.set_ylabel("share lovelorn in bin")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_title(title)
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
