"""The review loop closed on real data: dev half A's human labels stand in for a reviewer.

    python bench/feedback_loop.py --recipe config/recipes/lovelorn.toml --home H --model v1 \\
        --dev-labels ../shared/data/lovelorn_dev.tsv --corpus ../shared/data/ocemotion/train.tsv \\
        --out runs/loop -- --from-scratch small --max-minutes 28

1. the model scores dev half A; the texts it alerts on (its own threshold), and a share of the
   rest picked as the scorer picks its recall lane, get the human label as a verdict, written
   exactly as ``lovelorn feedback export`` writes them;
2. a copy of the recipe takes those verdicts as its first source (weight ``--weight``) and
   holds out dev half B only (half A may now be trained on: a reviewer saw it);
3. ``lovelorn train`` trains on it (the options after ``--``), in a home of its own;
4. both models are scored on dev half B, which neither saw: precision at recall 0.6 and
   average precision, side by side.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from monitor.model import ModelRegistry, PaddlePredictor, Thresholds
from monitor.schemas import Verdict, utcnow
from monitor.scoring.decider import sampled
from monitor.settings import RegistrySettings, Settings
from trainer.evaluation.evaluate import DEV_HALF_SEED, load_dev_labels, split_dev_halves
from trainer.evaluation.metrics import average_precision, pr_curve, precision_at_recall


def _scores(home: Path, version: str, texts: list[str]) -> tuple[np.ndarray, float, str]:
    settings = Settings(home=home, registry=RegistrySettings(bundled=False))
    predictor = PaddlePredictor.from_registry(
        ModelRegistry(settings.registry_root), settings.scorer, version
    )
    try:
        threshold = Thresholds.from_manifest(predictor.manifest, settings.alerts).by_policy[
            "default"
        ]
        return predictor.probabilities(texts), threshold, predictor.version
    finally:
        predictor.close()


def _figures(labels: np.ndarray, scores: np.ndarray) -> dict[str, float]:
    curve = pr_curve(labels, scores)
    return {"p_at_r0.6": precision_at_recall(curve, 0.6), "ap": average_precision(labels, scores)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipe", type=Path, required=True)
    parser.add_argument("--home", type=Path, required=True, help="home of the model to start from")
    parser.add_argument("--model", default="current")
    parser.add_argument("--dev-labels", type=Path, required=True)
    parser.add_argument("--corpus", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--sample", type=float, default=0.3, help="share of non-alerts reviewed")
    parser.add_argument("--weight", type=float, default=3.0)
    parser.add_argument(
        "train_args", nargs=argparse.REMAINDER, help="-- then lovelorn train options"
    )
    args = parser.parse_args()
    items = load_dev_labels(args.dev_labels, args.corpus)
    half_a, half_b = split_dev_halves(items, DEV_HALF_SEED)
    args.out.mkdir(parents=True, exist_ok=True)

    # 1. the reviewer's verdicts on half A
    scores, threshold, version = _scores(args.home, args.model, [i.text for i in half_a])
    verdicts = []
    for item, score in zip(half_a, scores, strict=True):
        alerted = score >= threshold
        if not alerted and not sampled(item.id, args.sample):
            continue
        verdicts.append(
            Verdict(
                alert_id=f"dev-{item.id}",
                lane="alerts" if alerted else "sample",
                comment_id=item.id,
                text=item.text,
                score=float(score),
                model_version=version,
                policies=["default"] if alerted else [],
                verdict="lovelorn" if item.label else "not_lovelorn",
                reviewer="dev-half-A",
                team="care",
                at=utcnow(),
            )
        )
    feedback = args.out / "verdicts.jsonl"
    feedback.write_text("".join(v.model_dump_json() + "\n" for v in verdicts), encoding="utf-8")
    alerts = [v for v in verdicts if v.lane == "alerts"]
    print(
        f"half A: {len(alerts)} alerts ({sum(v.verdict == 'lovelorn' for v in alerts)} lovelorn), "
        f"{len(verdicts) - len(alerts)} sampled non-alerts "
        f"({sum(v.verdict == 'lovelorn' for v in verdicts if v.lane == 'sample')} lovelorn)"
    )

    # 2. the recipe with the verdicts first and only half B held out
    recipe = tomllib.loads(args.recipe.read_text(encoding="utf-8"))
    held = args.out / "half_b_ids.tsv"
    held.write_text("id\n" + "".join(f"{i.id}\n" for i in half_b), encoding="utf-8")
    recipe["holdout"] = {"labels": str(held), "corpus": str(args.corpus.resolve())}
    verdict_source = {
        "name": "reviewer verdicts (dev half A labels)",
        "path": str(feedback),
        "label_column": "verdict",
        "id_column": "comment_id",
        "label_map": {"lovelorn": 1, "not_lovelorn": 0},
        "weight": args.weight,
    }
    for source in recipe["sources"]:  # relative paths stay relative to the repository
        for key in ("path",):
            if not Path(source[key]).is_absolute():
                source[key] = str((ROOT / source[key]).resolve())
        texts_from = source.get("texts_from")
        if texts_from and not Path(texts_from["path"]).is_absolute():
            texts_from["path"] = str((ROOT / texts_from["path"]).resolve())
    recipe["sources"] = [verdict_source, *recipe["sources"]]
    derived = args.out / "recipe.toml"
    derived.write_text(_toml(recipe), encoding="utf-8")

    # 3. train on it
    home = args.out / "home"
    train = [a for a in args.train_args if a != "--"]
    env = {**os.environ, "LOVELORN_HOME": str(home), "LOVELORN_REGISTRY__BUNDLED": "false"}
    subprocess.run(
        [sys.executable, "-m", "monitor", "train", "--recipe", str(derived), "--quiet", *train],
        check=True,
        env=env,
        cwd=ROOT,
    )

    # 4. both models on half B
    labels = np.array([i.label for i in half_b])
    before, _, _ = _scores(args.home, args.model, [i.text for i in half_b])
    after, _, new_version = _scores(home, "current", [i.text for i in half_b])
    table = {"before": _figures(labels, before), "after": _figures(labels, after)}
    (args.out / "result.json").write_text(json.dumps(table, indent=1))
    print("\n| dev half B (never trained on) | P at R ≥ 0.6 | average precision |\n|---|---|---|")
    for name, figures in table.items():
        model = (
            f"{args.model} (the recipe)"
            if name == "before"
            else f"{new_version} (+ half-A verdicts)"
        )
        print(f"| {model} | {figures['p_at_r0.6']:.3f} | {figures['ap']:.3f} |")


def _toml(data: dict[str, object]) -> str:
    """The small TOML subset recipes use (tables, arrays of tables, inline tables)."""

    def value(v: object) -> str:
        if isinstance(v, dict):
            return "{ " + ", ".join(f"{json.dumps(k)} = {value(x)}" for k, x in v.items()) + " }"
        if isinstance(v, list):
            return "[" + ", ".join(value(x) for x in v) + "]"
        if isinstance(v, bool):
            return "true" if v else "false"
        return json.dumps(v, ensure_ascii=False)

    lines = [f"{k} = {value(v)}" for k, v in data.items() if not isinstance(v, dict | list)]
    for name in ("holdout", "trainer"):
        if name in data:
            lines += ["", f"[{name}]"] + [f"{k} = {value(v)}" for k, v in data[name].items()]  # type: ignore[union-attr]
    for source in data.get("sources", []):  # type: ignore[union-attr]
        lines += ["", "[[sources]]"] + [f"{k} = {value(v)}" for k, v in source.items()]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
