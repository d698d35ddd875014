"""Trained models side by side: texts/s of the scorer's predictor for each registry version
(or exported model directory), in each CPU precision this CPU and the version's gate allow,
alternated over rounds on the same texts, with min / median / max.

    python bench/model_speed.py --data ../shared/data/ocemotion/train.tsv \
        --home H --models v1,v2 --texts 512 --rounds 3

Texts are sampled from the data file so the length distribution is real; texts/s include
tokenization. OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE are dropped inside this process only.
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

from monitor.model import Manifest, PaddlePredictor, cpu_support, registry_for
from monitor.settings import ScorerSettings, Settings
from monitor.text import clean_text


def _texts(data: Path, n: int, seed: int) -> list[str]:
    rows = [line.split("\t") for line in data.read_text(encoding="utf-8").splitlines()]
    texts = [clean_text(r[1]) for r in rows if len(r) >= 2 and r[1].strip()]
    return random.Random(seed).sample(texts, min(n, len(texts)))


def _predictor(settings: Settings, model: str, precision: str) -> PaddlePredictor:
    scorer = ScorerSettings(device="cpu", precision=precision, cpu_threads=2)
    if Path(model).is_dir():
        manifest = Manifest.model_validate_json((Path(model) / "manifest.json").read_text())
        return PaddlePredictor(Path(model), scorer, manifest)
    return PaddlePredictor.from_registry(registry_for(settings), scorer, model)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="TSV: id, text, … (no header)")
    parser.add_argument("--home", type=Path, default=None)
    parser.add_argument("--models", default="current", help="comma-separated versions or dirs")
    parser.add_argument("--texts", type=int, default=512)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    settings = Settings(home=args.home) if args.home else Settings()
    texts = _texts(args.data, args.texts, seed=7)
    runs: list[tuple[str, str, PaddlePredictor]] = []
    for model in args.models.split(","):
        for precision in ("fp32", "bf16"):
            if precision != "fp32" and cpu_support(precision) is not None:
                print(f"{model} {precision}: not run ({cpu_support(precision)})")
                continue
            try:
                predictor = _predictor(settings, model, precision)
            except Exception as exc:  # a gate that did not pass: say so, go on
                print(f"{model} {precision}: not run ({exc})")
                continue
            predictor.probabilities(texts[:64])  # warm-up: kernels for the common shapes
            runs.append((model, precision, predictor))
    timings: dict[tuple[str, str], list[float]] = {(m, p): [] for m, p, _ in runs}
    for _ in range(args.rounds):  # alternated: each round measures every run once
        for model, precision, predictor in runs:
            started = time.perf_counter()
            predictor.probabilities(texts)
            timings[(model, precision)].append(len(texts) / (time.perf_counter() - started))
    lengths = sorted(len(t) for t in texts)
    print(
        f"{len(texts)} texts (median {lengths[len(lengths) // 2]} characters), "
        f"{args.rounds} alternated rounds, 2 threads"
    )
    print("| model | base | precision | texts/s median (min–max) |\n|---|---|---|---|")
    for model, precision, predictor in runs:
        rates = timings[(model, precision)]
        print(
            f"| {predictor.version} | {predictor.manifest.base_model} | {precision} | "
            f"{statistics.median(rates):.1f} ({min(rates):.1f}–{max(rates):.1f}) |"
        )
        predictor.close()


if __name__ == "__main__":
    main()
