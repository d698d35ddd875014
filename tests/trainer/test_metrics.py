"""The evaluation figures a model is chosen by: average precision as scikit-learn computes it,
and dev halves that never depend on file order."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import average_precision_score

from trainer.evaluation.evaluate import EvalItem, split_dev_halves
from trainer.evaluation.metrics import average_precision

pytestmark = pytest.mark.unit  # the fast layer: no broker, Redis, Paddle or network


def test_average_precision_matches_scikit_learn_with_ties() -> None:
    rng = np.random.default_rng(7)
    for _ in range(20):
        labels = rng.integers(0, 2, 120)
        scores = rng.random(120).round(1)  # many ties
        assert average_precision(labels, scores) == pytest.approx(
            average_precision_score(labels, scores), abs=1e-12
        )
    assert average_precision(np.zeros(5, dtype=int), np.arange(5.0)) == 0.0


def test_dev_halves_are_stratified_disjoint_and_order_free() -> None:
    items = [EvalItem(f"t{i}", int(i % 5 == 0), "", f"id{i}", i % 7 == 0) for i in range(200)]
    a, b = split_dev_halves(items, 20261126)
    again_a, again_b = split_dev_halves(list(reversed(items)), 20261126)
    assert {i.id for i in a} == {i.id for i in again_a} and {i.id for i in b} == {
        i.id for i in again_b
    }
    assert not {i.id for i in a} & {i.id for i in b} and len(a) + len(b) == 200
    assert sum(i.label for i in a) == sum(i.label for i in b) == 20
