"""`lovelorn evaluate`: the serving path's scores, flag rates per group, examples, dev-label joins."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fixtures import EVERYDAY, LOVELORN, run_cli


def test_evaluate_reports_flag_rates_and_examples(
    tiny_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOVELORN_HOME", str(tiny_home))
    data = tmp_path / "eval.tsv"
    rows = (
        [(t, 1, "sadness") for t in LOVELORN[:10]]
        + [(t, 0, "happiness") for t in EVERYDAY[:5]]
        + [(t, 0, "sadness") for t in EVERYDAY[9:14]]
    )
    data.write_text(
        "text\tlabel\temotion\n" + "".join(f"{t}\t{y}\t{g}\n" for t, y, g in rows), encoding="utf-8"
    )
    out = tmp_path / "report"
    result = run_cli(
        "evaluate", "--data", str(data), "--group-column", "emotion", "--out", str(out)
    )
    assert result.code == 0, result.err
    report = json.loads((out / "report.json").read_text())
    default = report["metrics"]["default"]
    assert set(default["flag_rate_by_group"]) == {"happiness", "sadness"}
    assert report["n"] == 20 and report["positives"] == 10
    assert len(report["false_alerts"]) == 10 and len(report["misses"]) == 10
    assert all(e["text"] for e in report["false_alerts"])
    assert (out / "pr_curve.png").is_file() and "flagged among non-lovelorn" in (
        out / "report.md"
    ).read_text()
    assert report["pr_curve"][-1]["recall"] == 1.0
    png = tmp_path / "compare.png"
    done = subprocess.run(
        [sys.executable, "bench/compare_pr.py", "--out", str(png), f"tiny={out / 'report.json'}"],
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert done.returncode == 0, done.stderr
    assert png.stat().st_size > 1000


def test_dev_labels_join_and_errors(
    tiny_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOVELORN_HOME", str(tiny_home))
    corpus = tmp_path / "corpus.tsv"
    corpus.write_text(
        "".join(
            f"{i}\t{t}\t{'sadness' if i < 12 else 'anger'}\n"
            for i, t in enumerate(LOVELORN[:8] + EVERYDAY[:8])
        ),
        encoding="utf-8",
    )
    labels = tmp_path / "dev.tsv"
    labels.write_text(
        "id\tlovelorn\tambiguous\n"
        + "".join(f"{i}\t{int(i < 8)}\t{int(i == 3)}\n" for i in range(16))
    )
    result = run_cli(
        "evaluate",
        "--dev-labels",
        str(labels),
        "--corpus",
        str(corpus),
        "--out",
        str(tmp_path / "r"),
    )
    assert result.code == 0, result.err
    report = json.loads((tmp_path / "r" / "report.json").read_text())
    assert report["positives"] == 8 and "without_ambiguous" in report
    assert set(report["metrics"]["default"]["flag_rate_by_group"]) == {"anger", "sadness"}

    labels.write_text("id\tlovelorn\n999\t1\n")
    wrong = run_cli("evaluate", "--dev-labels", str(labels), "--corpus", str(corpus))
    assert wrong.code == 1 and "1 dev ids are not in" in wrong.err
    assert run_cli("evaluate", "--dev-labels", str(labels)).code == 2
    assert "give --data FILE" in run_cli("evaluate").err


def test_calibration_split_depends_on_ids_and_seed_not_file_order() -> None:
    import random

    from trainer.evaluation.evaluate import EvalItem, _stratified_split

    items = [EvalItem(f"t{i}", int(i % 5 == 0), "sadness", f"id{i}", i % 3 == 0) for i in range(60)]
    shuffled = items[:]
    random.Random(1).shuffle(shuffled)

    def calibration_ids(part: list[EvalItem], seed: int) -> set[str]:
        return {part[i].id for i in _stratified_split(part, 0.5, seed)[0]}

    assert calibration_ids(items, 7) == calibration_ids(shuffled, 7)
    assert calibration_ids(items, 7) != calibration_ids(items, 8)
    calibration = calibration_ids(items, 7)
    for label, ambiguous in ((0, False), (0, True), (1, False), (1, True)):
        stratum = [i for i in items if i.label == label and i.ambiguous == ambiguous]
        assert sum(i.id in calibration for i in stratum) == len(stratum) // 2
