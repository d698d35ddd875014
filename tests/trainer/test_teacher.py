"""Distillation: soft targets reach the loss, and the n-gram teacher's cross-fitted targets."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest

from monitor.model import encode_batch, softmax_positive
from tests.fixtures import EVERYDAY, FIT, LOVELORN
from trainer.data import Example
from trainer.errors import DataError
from trainer.networks.build import build_from_scratch
from trainer.networks.finetune import fine_tune, predict_dygraph
from trainer.networks.teacher import cross_fitted_targets


def test_training_fits_soft_targets_not_labels(tmp_path: Path) -> None:
    # Every label says the opposite of the target: the model must follow the targets.
    examples = [Example(t, 1, target=0.0) for t in LOVELORN] + [
        Example(t, 0, target=1.0) for t in EVERYDAY
    ]
    built = build_from_scratch("test", tmp_path, seed=3, max_seq_len=64)
    fine_tune(built.model, built.tokenizer, examples, examples, FIT, progress=False)
    scores = softmax_positive(
        predict_dygraph(built.model, encode_batch(built.tokenizer, LOVELORN + EVERYDAY, 64))
    )
    assert scores[: len(LOVELORN)].max() < 0.5 < scores[len(LOVELORN) :].min()


def test_teacher_targets_follow_the_evidence_and_keep_the_rest() -> None:
    examples = [Example(t, 1, weight=2.0, source="a") for t in LOVELORN] + [
        Example(t, 0, source="b") for t in EVERYDAY
    ]
    random.Random(0).shuffle(examples)
    targeted, report = cross_fitted_targets(examples, folds=5, seed=0)
    assert [(e.text, e.label, e.weight, e.source) for e in targeted] == [
        (e.text, e.label, e.weight, e.source) for e in examples
    ]
    targets = np.array([e.target for e in targeted])
    labels = np.array([e.label for e in targeted])
    assert targets[labels == 1].mean() > targets[labels == 0].mean() + 0.1
    assert report["folds"] == 5
    assert report["mean_target"]["lovelorn"] == pytest.approx(targets[labels == 1].mean())


def test_teacher_needs_both_classes() -> None:
    few = [Example(t, 0) for t in EVERYDAY] + [Example(LOVELORN[0], 1)]
    with pytest.raises(DataError, match="at least 2 examples of each class"):
        cross_fitted_targets(few, folds=5, seed=0)
    two = [*few, Example(LOVELORN[1], 1)]
    assert cross_fitted_targets(two, folds=5, seed=0)[1]["folds"] == 2


def test_every_target_comes_from_a_model_that_never_saw_the_row(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import trainer.networks.teacher as teacher

    fitted = teacher.fit_char_ngram
    scored: list[str] = []

    class Checked:
        def __init__(self, texts, labels, weights):  # type: ignore[no-untyped-def]
            self.seen = set(texts)
            self.model = fitted(texts, labels, weights)

        def predict_proba(self, texts):  # type: ignore[no-untyped-def]
            assert not self.seen & set(texts), "a row was scored by a model fitted on it"
            scored.extend(texts)
            return self.model.predict_proba(texts)

    monkeypatch.setattr(teacher, "fit_char_ngram", Checked)
    examples = [Example(t, 1) for t in LOVELORN] + [Example(t, 0) for t in EVERYDAY]
    cross_fitted_targets(examples, folds=4, seed=1)
    assert sorted(scored) == sorted(e.text for e in examples)  # each row scored exactly once
