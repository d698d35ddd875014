"""How the lovelorn teacher's dev precision grows with its training data (a learning curve).

    python bench/learning_curve.py --recipe config/recipes/lovelorn.toml \\
        --dev-labels ../shared/data/lovelorn_dev.tsv --corpus ../shared/data/ocemotion/train.tsv

Trains the distillation teacher (``trainer.teacher.fit_char_ngram``) on stratified random
fractions of the recipe's training part, with the sources' weights, and scores dev half A
(``--half``; the recipe holds every dev id and text out of training, and the figures need no
threshold). Half B is kept for the one report per adopted recipe, so the default is A.
A curve still climbing at 100% says the model is short of data, not of tuning.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from sklearn.metrics import average_precision_score

from monitor.settings import Settings
from trainer.data import Example, Exclusion, split_stratified
from trainer.data.recipe import load_recipe
from trainer.errors import DataError
from trainer.evaluation.evaluate import DEV_HALF_SEED, load_dev_labels, split_dev_halves
from trainer.evaluation.metrics import pr_curve, precision_at_recall
from trainer.networks.teacher import fit_char_ngram

RECALLS = (0.5, 0.6, 0.7)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipe", type=Path, required=True)
    parser.add_argument("--dev-labels", type=Path, required=True)
    parser.add_argument("--corpus", type=Path, required=True)
    parser.add_argument("--fractions", default="0.25,0.5,0.75,1")
    parser.add_argument("--repeats", type=int, default=3, help="subsamples per fraction below 1")
    parser.add_argument("--half", choices=["A", "B", "all"], default="A", help="dev texts scored")
    parser.add_argument(
        "--half-seed", type=int, default=DEV_HALF_SEED, help="seed of the dev halves"
    )
    parser.add_argument(
        "--seed", type=int, default=None, help="split seed (default: the trainer's)"
    )
    args = parser.parse_args()
    try:
        fractions = sorted(float(f) for f in args.fractions.split(","))
    except ValueError:
        parser.error(f"--fractions: not a list of numbers: {args.fractions!r}")
    if not fractions or not all(0 < f <= 1 for f in fractions):
        parser.error("--fractions must lie in (0, 1]")
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")
    try:
        run(args, fractions)
    except DataError as exc:  # bad data files: one line, as in `lovelorn train`
        parser.exit(1, f"error: {exc}\n")


def subsample(train: list[Example], fraction: float, rng: np.random.Generator) -> list[Example]:
    """The same fraction of each class, so the class balance stays the recipe's."""
    kept: list[Example] = []
    for label in sorted({e.label for e in train}):
        members = [e for e in train if e.label == label]
        take = max(1, round(fraction * len(members)))
        kept += [members[i] for i in rng.choice(len(members), take, replace=False)]
    return kept


def run(args: argparse.Namespace, fractions: list[float]) -> None:
    plan = load_recipe(args.recipe)
    trainer = plan.trainer_settings(Settings().trainer)
    examples, _ = plan.examples()
    train = split_stratified(examples, seed=trainer.seed if args.seed is None else args.seed).train
    items = load_dev_labels(args.dev_labels, args.corpus)
    if args.half != "all":
        items = split_dev_halves(items, args.half_seed)[0 if args.half == "A" else 1]
    dev_texts = [i.text for i in items]
    leaked = Exclusion.of([], dev_texts)
    if any(leaked.covers("", e.text) for e in examples):  # the whole dev set is the test set
        raise DataError(f"{args.recipe}: its [holdout] does not keep the dev texts out of training")
    y = np.array([i.label for i in items])
    print(
        f"data: recipe {args.recipe}; training part {len(train)} rows, {sum(e.label for e in train)} lovelorn"
    )
    print(
        f"dev: {args.half} ({len(items)} texts, {int(y.sum())} lovelorn), checked: none in the training rows\n"
    )
    header = " | ".join(f"P at R>={r}" for r in RECALLS)
    print(f"| share of training rows | lovelorn rows | {header} | average precision | fit time |")
    print("|---|---|" + "---|" * len(RECALLS) + "---|---|")
    rng = np.random.default_rng(trainer.seed)
    for fraction in fractions:
        runs = []
        for _ in range(1 if fraction == 1 else args.repeats):
            part = train if fraction == 1 else subsample(train, fraction, rng)
            started = time.perf_counter()
            model = fit_char_ngram(
                [e.text for e in part],
                np.array([e.label for e in part]),
                np.array([e.weight for e in part]),
            )
            seconds = time.perf_counter() - started
            scores = model.predict_proba(dev_texts)[:, 1]
            curve = pr_curve(y, scores)
            runs.append(
                [precision_at_recall(curve, r) for r in RECALLS]
                + [average_precision_score(y, scores), seconds, sum(e.label for e in part)]
            )
        table = np.array(runs)
        mean, low, high = table.mean(0), table.min(0), table.max(0)
        cells = [
            f"{mean[k]:.3f}" + (f" ({low[k]:.2f}–{high[k]:.2f})" if len(runs) > 1 else "")
            for k in range(len(RECALLS) + 1)
        ]
        print(
            f"| {fraction:.0%} | {mean[-1]:.0f} | " + " | ".join(cells) + f" | {mean[-2]:.1f} s |"
        )
    print("\nmean over subsamples (min–max); the full training part is fitted once")


if __name__ == "__main__":
    main()
