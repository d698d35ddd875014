"""The behaviour suite (trainer/evaluation/behaviour.py) on a model: which heartbreak
statements it flags at its default threshold, which look-alikes it leaves alone, how far
script, emoji and punctuation move a score, and whether negation lowers it.

    python bench/behaviour.py                      # the bundled model
    python bench/behaviour.py --model v3 --home H  # a registry version (or a model directory)
"""

from __future__ import annotations

from pathlib import Path

import click

from monitor import Detector
from monitor.settings import Settings
from trainer.evaluation.behaviour import MAX_SHIFT, run_suite, summarise


@click.command()
@click.option("--model", default=None, help="vN, current or a model directory (default: bundled)")
@click.option("--home", type=click.Path(path_type=Path, file_okay=False), default=None)
@click.option("--failures/--no-failures", default=True, help="List each failed case.")
def main(model: str | None, home: Path | None, failures: bool) -> None:
    settings = Settings(home=home) if home else Settings()
    with Detector.load(model, settings=settings) as detector:
        threshold = detector.thresholds.by_policy["default"]
        outcomes = run_suite(lambda ts: [d.score for d in detector(ts)], threshold)
        m = detector.manifest
    print(f"model {m.version} ({m.base_model}), default threshold {threshold:.3f}")
    print("| test | group | passed |\n|---|---|---|")
    for test, group, passed, total in summarise(outcomes):
        print(f"| {test} | {group} | {passed}/{total} |")
    print(f"| **all** | | **{sum(o.passed for o in outcomes)}/{len(outcomes)}** |")
    if failures:
        for o in outcomes:
            if not o.passed:
                other = f" vs {o.other_score:.3f}" if o.other_score is not None else ""
                print(f"  failed {o.case.name}: {o.score:.3f}{other}")
    print(f"(invariance: |score change| <= {MAX_SHIFT}; direction: the negated text scores lower)")


if __name__ == "__main__":
    main()
