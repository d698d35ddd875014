"""Char 1–3-gram TF-IDF + logistic regression on exactly the trainer's split, for comparison.

    python bench/baseline_tfidf.py --data ../shared/data/ocemotion/train.tsv \
        --columns id,text,label --label-map sadness=1,happiness=0

Prints the paper's metrics (macro F1/P/R at threshold 0.5) on the test part. Needs the
``dev`` extra (scikit-learn).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from trainer.data import SourceSpec, load_source, parse_label_map, split_stratified
from trainer.metrics import binary_report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--columns", default=None)
    parser.add_argument("--text-column", default="text")
    parser.add_argument("--label-column", default="label")
    parser.add_argument("--label-map", default=None)
    parser.add_argument("--seed", type=int, default=42, help="the trainer's seed (same split)")
    args = parser.parse_args()
    spec = SourceSpec(
        args.data,
        text_column=args.text_column,
        label_column=args.label_column,
        columns=tuple(args.columns.split(",")) if args.columns else None,
        label_map=parse_label_map(args.label_map),
    )
    examples, report = load_source(spec)
    data = split_stratified(examples, seed=args.seed)
    started = time.perf_counter()
    vectorizer = TfidfVectorizer(analyzer="char", ngram_range=(1, 3), min_df=2, sublinear_tf=True)
    x_train = vectorizer.fit_transform([e.text for e in data.train])
    model = LogisticRegression(C=4.0, max_iter=2000).fit(x_train, [e.label for e in data.train])
    fit_s = time.perf_counter() - started
    scores = model.predict_proba(vectorizer.transform([e.text for e in data.test]))[:, 1]
    result = binary_report(np.array([e.label for e in data.test]), (scores >= 0.5).astype(int))
    print(f"data: {report.source}, kept {report.kept} of {report.rows} rows, split {data.sizes()}")
    print("| model | test macro-F1 | macro-P | macro-R | accuracy | fit time |")
    print("|---|---|---|---|---|---|")
    print(
        f"| char 1-3-gram TF-IDF + LR | {result['macro_f1']:.4f} | {result['macro_precision']:.4f} | "
        f"{result['macro_recall']:.4f} | {result['accuracy']:.4f} | {fit_s:.1f} s |"
    )


if __name__ == "__main__":
    main()
