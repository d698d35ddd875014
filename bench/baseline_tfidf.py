"""Char 1–3-gram TF-IDF + logistic regression on exactly the trainer's split, for comparison.

    python bench/baseline_tfidf.py --data ../shared/data/ocemotion/train.tsv \\
        --columns id,text,label --label-map sadness=1,happiness=0

    python bench/baseline_tfidf.py --recipe config/recipes/lovelorn.toml \\
        --dev-labels ../shared/data/lovelorn_dev.tsv --corpus ../shared/data/ocemotion/train.tsv \\
        --calibrate-on 0.5 --split-seed 20261126

Prints the paper's metrics (macro F1/P/R at threshold 0.5) on the test part. With
``--dev-labels`` it also writes the same report as ``lovelorn evaluate`` for the baseline's
scores (thresholds from the calibration part, figures from the rest). The model is the
trainer's distillation teacher (``trainer.teacher.fit_char_ngram``), trained on the training
part with the sources' weights.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from monitor.settings import Settings
from trainer.data import (
    SourceSpec,
    load_source,
    parse_label_map,
    split_stratified,
)
from trainer.data.recipe import load_recipe
from trainer.errors import DataError
from trainer.evaluation.evaluate import load_dev_labels, report_scores
from trainer.evaluation.metrics import binary_report
from trainer.networks.teacher import fit_char_ngram


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--data", type=Path)
    source.add_argument("--recipe", type=Path)
    parser.add_argument("--columns", default=None, help="with --data: header-less columns")
    parser.add_argument("--text-column", default="text")
    parser.add_argument("--label-column", default="label")
    parser.add_argument("--label-map", default=None)
    parser.add_argument(
        "--seed", type=int, default=None, help="split seed (default: the trainer's, same split)"
    )
    parser.add_argument("--dev-labels", type=Path, default=None)
    parser.add_argument("--corpus", type=Path, default=None)
    parser.add_argument("--calibrate-on", type=float, default=0.5)
    parser.add_argument("--split-seed", type=int, default=0, help="seed of the calibration split")
    parser.add_argument("--out", type=Path, default=Path("baseline-report"))
    args = parser.parse_args()
    if args.dev_labels and args.corpus is None:
        parser.error("--dev-labels needs --corpus")
    if not 0.05 <= args.calibrate_on <= 0.95:
        parser.error("--calibrate-on must be between 0.05 and 0.95")
    try:
        run(args)
    except DataError as exc:  # bad data files: one line, as in `lovelorn train`
        parser.exit(1, f"error: {exc}\n")


def run(args: argparse.Namespace) -> None:
    settings = Settings()
    trainer = settings.trainer
    if args.recipe:
        plan = load_recipe(args.recipe)
        trainer = plan.trainer_settings(trainer)
        examples, reports = plan.examples()
        described = f"recipe {args.recipe}"
    else:
        spec = SourceSpec(
            args.data,
            text_column=args.text_column,
            label_column=args.label_column,
            columns=tuple(args.columns.split(",")) if args.columns else None,
            label_map=parse_label_map(args.label_map),
        )
        examples, report = load_source(spec)
        reports = [report]
        described = report.source
    data = split_stratified(examples, seed=trainer.seed if args.seed is None else args.seed)
    started = time.perf_counter()
    model = fit_char_ngram(
        [e.text for e in data.train],
        np.array([e.label for e in data.train]),
        np.array([e.weight for e in data.train]),
    )
    fit_s = time.perf_counter() - started
    scores = model.predict_proba([e.text for e in data.test])[:, 1]
    result = binary_report(np.array([e.label for e in data.test]), (scores >= 0.5).astype(int))
    kept = sum(r.kept for r in reports)
    print(
        f"data: {described}, kept {kept} of {sum(r.rows for r in reports)} rows, split {data.sizes()}"
    )
    print("| model | test macro-F1 | macro-P | macro-R | accuracy | fit time |")
    print("|---|---|---|---|---|---|")
    print(
        f"| char 1-3-gram TF-IDF + LR | {result['macro_f1']:.4f} | {result['macro_precision']:.4f} | "
        f"{result['macro_recall']:.4f} | {result['accuracy']:.4f} | {fit_s:.1f} s |"
    )
    if args.dev_labels:
        items = load_dev_labels(args.dev_labels, args.corpus)
        dev_scores = model.predict_proba([i.text for i in items])[:, 1]
        thresholds = {"default": 0.5} | {  # calibration replaces all but fixed thresholds
            name: 0.5 if rule.threshold is None else rule.threshold
            for name, rule in settings.alerts.policies.items()
        }
        dev = report_scores(
            settings,
            items,
            dev_scores,
            thresholds,
            args.out,
            title="char n-gram baseline on dev labels",
            name="char n-gram baseline",
            calibration_fraction=args.calibrate_on,
            seed=args.split_seed,
        )
        default = dev["metrics"]["default"]
        print(
            f"dev held-out part ({dev['n']} texts, {dev['positives']} lovelorn): lovelorn P "
            f"{default['lovelorn_precision']:.3f} R {default['lovelorn_recall']:.3f} at threshold "
            f"{default['threshold']:.3f}; P at R>=0.6 {dev['precision_at_recall']['0.6']:.3f}; "
            f"report {args.out / 'report.md'}"
        )


if __name__ == "__main__":
    main()
