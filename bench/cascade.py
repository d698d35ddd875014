"""A recorded cascade beside each of its two models: quality on labelled dev texts, the share
that reaches the second stage, and texts/s, alternated over rounds on the same texts.

    lovelorn models cascade v4 v3 --home H           # choose and record the band first
    python bench/cascade.py --home H --model v3 --dev-labels ../shared/data/lovelorn_dev.tsv \
        --corpus ../shared/data/ocemotion/train.tsv --half A --data ../shared/data/ocemotion/train.tsv \
        --e2e 3000

Quality: average precision and precision at recall 0.6 on the dev half; speed: texts sampled
from ``--data`` so the length distribution is real, fp32, 2 threads, tokenization included.
OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE are dropped inside this process only.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

for variable in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):  # this bench process only
    os.environ.pop(variable, None)

import numpy as np

from monitor.model import (
    CascadePredictor,
    PaddlePredictor,
    average_precision,
    open_predictor,
    pr_curve,
    registry_for,
)
from monitor.settings import ScorerSettings, Settings
from monitor.text import clean_text
from trainer.evaluation.evaluate import load_dev_labels, split_dev_halves
from trainer.evaluation.metrics import precision_at_recall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, default=None)
    parser.add_argument("--model", default="current", help="the cascade's second stage")
    parser.add_argument("--dev-labels", type=Path, required=True)
    parser.add_argument("--corpus", type=Path, required=True)
    parser.add_argument("--half", choices=["A", "B"], default="A")
    parser.add_argument("--seed", type=int, default=20261126)
    parser.add_argument("--data", type=Path, required=True, help="TSV: id, text, … (speed texts)")
    parser.add_argument("--texts", type=int, default=512)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--e2e",
        type=int,
        default=0,
        metavar="N",
        help="also run N comments through the pipeline (embedded broker, scorer, Kafka + Redis "
        "sinks), the second stage alone vs the cascade, alternated over --rounds",
    )
    args = parser.parse_args()
    settings = Settings(home=args.home) if args.home else Settings()
    registry = registry_for(settings)
    scorer = ScorerSettings(device="cpu", precision="fp32", cpu_threads=2, cascade=True)
    cascade = open_predictor(registry, scorer, args.model)
    assert isinstance(cascade, CascadePredictor)
    first, second = cascade.first, cascade.second
    runs: list[tuple[str, PaddlePredictor | CascadePredictor]] = [
        (f"{first.version} alone (first stage)", first),
        (f"{second.version} alone (second stage)", second),
        (f"cascade {first.version} → {second.version}", cascade),
    ]

    items = split_dev_halves(load_dev_labels(args.dev_labels, args.corpus), args.seed)[
        0 if args.half == "A" else 1
    ]
    y = np.array([i.label for i in items])
    quality = {}
    for name, predictor in runs:
        before = cascade.rescored
        scores = predictor.probabilities([i.text for i in items])
        share = (cascade.rescored - before) / len(items) if predictor is cascade else None
        quality[name] = (
            average_precision(y, scores),
            precision_at_recall(pr_curve(y, scores), 0.6),
            share,
        )

    rows = [line.split("\t") for line in args.data.read_text(encoding="utf-8").splitlines()]
    pool = [clean_text(r[1]) for r in rows if len(r) >= 2 and r[1].strip()]
    texts = random.Random(7).sample(pool, min(args.texts, len(pool)))
    for _, predictor in runs:
        predictor.probabilities(texts[:64])  # warm-up: kernels for the common shapes
    rates: dict[str, list[float]] = {name: [] for name, _ in runs}
    shares: list[float] = []
    for _ in range(args.rounds):  # alternated: each round measures every run once
        for name, predictor in runs:
            before = cascade.rescored
            started = time.perf_counter()
            predictor.probabilities(texts)
            rates[name].append(len(texts) / (time.perf_counter() - started))
            if predictor is cascade:
                shares.append((cascade.rescored - before) / len(texts))
    plan = cascade.plan
    print(
        f"band [{plan.low:.4f}, {plan.high:.4f}] chosen on {int(plan.measured.get('texts', 0))} "
        f"validation texts (AP budget {plan.measured.get('max_ap_loss', 0):.3f}); dev half "
        f"{args.half}: {len(items)} texts, {int(y.sum())} lovelorn; speed: {len(texts)} texts, "
        f"{args.rounds} alternated rounds, fp32, 2 threads"
    )
    print(
        "| model | half AP | half P at R 0.6 | share re-scored (half / speed texts) "
        "| texts/s median (min–max) |\n|---|---|---|---|---|"
    )
    for name, _ in runs:
        ap, p60, share = quality[name]
        r = rates[name]
        shared = f"{share:.1%} / {statistics.median(shares):.1%}" if share is not None else "–"
        print(
            f"| {name} | {ap:.3f} | {p60:.3f} | {shared} | "
            f"{statistics.median(r):.1f} ({min(r):.1f}–{max(r):.1f}) |"
        )
    cascade.close()
    if args.e2e:
        pipeline(
            registry.root, second.version, random.Random(8).choices(pool, k=args.e2e), args.rounds
        )


def pipeline(models: Path, version: str, texts: list[str], rounds: int) -> None:
    """Texts/s of the whole pipeline serving ``version`` alone and as its cascade."""
    import asyncio
    import shutil
    import tempfile

    from bench.scorer import pipeline_rate, pipeline_settings

    rates: dict[bool, list[float]] = {False: [], True: []}
    with tempfile.TemporaryDirectory() as tmp:
        shutil.copytree(models, Path(tmp) / "home" / "models")  # the scorer's own registry
        for r in range(rounds):  # alternated
            for cascade in (False, True):
                settings = pipeline_settings(
                    Path(tmp) / "home", 2, model=version, cascade=cascade, precision="fp32"
                )
                services = Path(tmp) / f"services-{r}-{cascade}"
                rates[cascade].append(asyncio.run(pipeline_rate(texts, settings, services)))
    print(
        f"\npipeline: {len(texts)} comments through the embedded broker, the scorer and both "
        f"sinks, {rounds} alternated rounds\n| scorer serves | comments/s median (min–max) |\n|---|---|"
    )
    for cascade, name in ((False, f"{version} alone"), (True, f"cascade → {version}")):
        r = rates[cascade]
        print(f"| {name} | {statistics.median(r):.1f} ({min(r):.1f}–{max(r):.1f}) |")


if __name__ == "__main__":
    main()
