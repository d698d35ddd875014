"""Thresholds between scores, never on one: numerical noise of another CPU keeps decisions."""

from __future__ import annotations

import numpy as np
import pytest

from monitor.model import policy_threshold
from trainer.evaluation.metrics import choose_threshold, pr_curve


def _validation(gap: float) -> tuple[np.ndarray, np.ndarray]:
    """Validation scores whose neighbouring distinct values are at least ``gap`` apart."""
    rng = np.random.default_rng(7)
    scores = np.round(np.sort(rng.choice(np.arange(0.01, 0.99, gap), 150, replace=False)), 6)
    labels = (rng.random(150) < scores).astype(int)  # higher scores, more positives
    return labels, scores


@pytest.mark.parametrize("rule", ["max F1", "precision 0.6", "precision 0.8", "policy 0.7"])
def test_scores_moved_by_1e3_keep_every_validation_decision(rule: str) -> None:
    labels, scores = _validation(gap=0.005)  # wider than the ±1e-3 noise on either side
    curve = pr_curve(labels, scores)
    if rule == "max F1":
        threshold, _ = choose_threshold(labels, scores)
    elif rule.startswith("precision"):
        threshold, chosen = choose_threshold(labels, scores, min_precision=float(rule[-3:]))
        assert chosen.startswith("most validation recall"), chosen
    else:
        threshold, reached = policy_threshold(curve, 0.7, 0.5)
        assert reached
    decided = scores >= threshold
    assert not np.isclose(scores, threshold, atol=2e-3).any(), "a threshold sits on a score"
    rng = np.random.default_rng(1)
    for noise in (1e-3, -1e-3, rng.uniform(-1e-3, 1e-3, scores.shape)):
        assert ((scores + noise) >= threshold).tolist() == decided.tolist()


def test_each_threshold_decides_the_validation_data_as_its_score_did() -> None:
    labels, scores = _validation(gap=0.005)
    for point in pr_curve(labels, scores):
        flagged = scores >= point.threshold
        assert flagged.sum() and point.recall == labels[flagged].sum() / labels.sum()
        lowest_flagged, highest_not = scores[flagged].min(), scores[~flagged].max(initial=0)
        assert point.threshold == pytest.approx((lowest_flagged + highest_not) / 2)


def test_the_lowest_threshold_lies_below_every_score() -> None:
    curve = pr_curve(np.array([1, 0, 1]), np.array([0.9, 0.4, 0.2]))
    assert [round(p.threshold, 6) for p in curve] == [0.65, 0.3, 0.1]
    assert curve[-1].recall == 1.0
    assert pr_curve(np.array([]), np.array([])) == []
