"""Several evaluation reports' precision–recall curves in one PNG, to compare models by eye.

    python bench/compare_pr.py --out docs/lovelorn_pr_half_b.png \\
        "paper construction=paper/report.json" "lovelorn, distilled=love/report.json"

Each argument is ``LABEL=PATH`` to a ``report.json`` written by ``lovelorn evaluate`` (or
bench/baseline_tfidf.py ``--dev-labels``); the curves are of the parts those reports measured.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from monitor.model import PRPoint
from trainer.evaluation.report import plot_pr


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("reports", nargs="+", metavar="LABEL=PATH")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--title", default="lovelorn precision–recall")
    args = parser.parse_args()
    curves: dict[str, list[PRPoint]] = {}
    for entry in args.reports:
        label, sep, path = entry.partition("=")
        if not sep:
            parser.error(f"{entry!r} is not LABEL=PATH")
        try:
            report = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            parser.error(f"cannot read {path}: {exc}")
        if "pr_curve" not in report:
            parser.error(f"{path} has no pr_curve: re-run the evaluation with this version")
        curves[f"{label} (P@R0.6 {report['precision_at_recall']['0.6']:.2f})"] = [
            PRPoint.model_validate(p) for p in report["pr_curve"]
        ]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    plot_pr(curves, args.out, args.title)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
