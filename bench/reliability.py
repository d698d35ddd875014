"""Does a score mean what it says? Expected calibration error and a reliability plot of a
model's scores on lovelorn dev half A (human labels; the choosing half), softmax against
the served (calibrated) score.

    python bench/reliability.py --home H --model v2 --dev-labels ../shared/data/lovelorn_dev.tsv \
        --corpus ../shared/data/ocemotion/train.tsv --out docs/reliability_half_a.png

The calibration is fitted on the training recipe's validation part, whose lovelorn share
(4.3%) is about half of the dev set's (8.7%): a calibrated score is a probability at the
training prevalence, so on half A it is expected to read low.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from monitor.model import PaddlePredictor, registry_for, scores_from_logits, softmax_positive
from monitor.settings import Settings
from trainer.evaluation.calibration import expected_calibration_error, plot_reliability
from trainer.evaluation.evaluate import DEV_HALF_SEED, load_dev_labels, split_dev_halves


@click.command()
@click.option("--home", type=click.Path(path_type=Path, file_okay=False), required=True)
@click.option("--model", default="current")
@click.option("--dev-labels", type=click.Path(path_type=Path, exists=True), required=True)
@click.option("--corpus", type=click.Path(path_type=Path, exists=True), required=True)
@click.option("--out", type=click.Path(path_type=Path, dir_okay=False), required=True)
def main(home: Path, model: str, dev_labels: Path, corpus: Path, out: Path) -> None:
    settings = Settings(home=home)
    half_a, _ = split_dev_halves(load_dev_labels(dev_labels, corpus), DEV_HALF_SEED)
    labels = np.array([item.label for item in half_a])
    predictor = PaddlePredictor.from_registry(registry_for(settings), settings.scorer, model)
    try:
        logits = predictor.logits([item.text for item in half_a])
    finally:
        predictor.close()
    raw = softmax_positive(logits)
    served = scores_from_logits(logits, predictor.manifest.calibration)
    out.parent.mkdir(parents=True, exist_ok=True)
    plot_reliability(
        {"softmax": (labels, raw), "served (calibrated)": (labels, served)},
        out,
        f"{predictor.version} on dev half A ({int(labels.sum())} of {len(labels)} lovelorn)",
    )
    print(f"model {predictor.version} ({predictor.manifest.base_model}), dev half A")
    print(f"ECE softmax {expected_calibration_error(labels, raw):.3f}")
    print(f"ECE served  {expected_calibration_error(labels, served):.3f}")
    print(f"mean score {served.mean():.3f} vs lovelorn share {labels.mean():.3f}")
    print(f"plot: {out}")


if __name__ == "__main__":
    main()
