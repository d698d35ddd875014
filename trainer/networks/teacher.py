"""A character n-gram teacher whose out-of-fold probabilities become the student's soft targets.

ERNIE trained from random weights on a few hundred positives learns the lexical evidence
slowly; a linear model over character 1–3-grams learns it from the same rows in seconds.
Each training row gets the probability of a teacher that never saw it (k-fold cross-fitting),
so the targets carry the teacher's graded judgement, not a copy of the row's own label.
On held-out lovelorn dev labels it raised the from-scratch student's precision at recall 0.6
from 0.21 to 0.49 (README, "Lovelorn, not merely sad").
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from trainer.data.examples import Example
from trainer.errors import DataError
from trainer.evaluation.metrics import pr_curve, precision_at_recall

__all__ = ["cross_fitted_targets", "fit_char_ngram"]


def fit_char_ngram(texts: Sequence[str], labels: np.ndarray, weights: np.ndarray) -> Any:
    """The teacher (also bench/baseline_tfidf.py's baseline): a fitted scikit-learn pipeline."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    model = make_pipeline(
        TfidfVectorizer(analyzer="char", ngram_range=(1, 3), min_df=2, sublinear_tf=True),
        LogisticRegression(C=4.0, max_iter=3000),
    )
    return model.fit(list(texts), labels, logisticregression__sample_weight=weights)


def cross_fitted_targets(
    train: Sequence[Example], *, folds: int, seed: int
) -> tuple[list[Example], dict[str, Any]]:
    """``train`` with ``target`` set to an out-of-fold teacher probability, and a report."""
    from sklearn.model_selection import StratifiedKFold

    started = time.monotonic()
    labels = np.array([e.label for e in train])
    weights = np.array([e.weight for e in train], dtype=np.float64)
    smaller = int(min(labels.sum(), len(labels) - labels.sum()))
    if smaller < 2:
        raise DataError("the char n-gram teacher needs at least 2 examples of each class")
    folds = min(folds, smaller)
    texts = [e.text for e in train]
    targets = np.zeros(len(train))
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    for fit_rows, held_rows in splitter.split(texts, labels):
        model = fit_char_ngram([texts[i] for i in fit_rows], labels[fit_rows], weights[fit_rows])
        targets[held_rows] = model.predict_proba([texts[i] for i in held_rows])[:, 1]
    curve = pr_curve(labels, targets)
    report = {
        "kind": "char 1-3-gram TF-IDF + logistic regression",
        "folds": folds,
        "rows": len(train),
        "seconds": round(time.monotonic() - started, 1),
        "out_of_fold_precision_at_recall_0.6": precision_at_recall(curve, 0.6),
        "mean_target": {
            "lovelorn": float(targets[labels == 1].mean()),
            "normal": float(targets[labels == 0].mean()),
        },
    }
    return [replace(e, target=float(t)) for e, t in zip(train, targets, strict=True)], report
