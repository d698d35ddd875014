"""Distilling a registry version: cached teacher scores, unlabelled texts, no held-out leakage."""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from tests.fixtures import EVERYDAY, LOVELORN, fixture_examples, run_cli
from trainer.data import Example
from trainer.data.recipe import load_recipe
from trainer.networks.distil import TeacherScores, with_teacher_targets


class Counting:
    """A teacher whose score is the text's length / 100, counting the texts it scored."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def __call__(self, texts: Sequence[str]) -> list[float]:
        self.seen += texts
        return [len(t) / 100 for t in texts]


def test_scores_are_cached_and_a_cut_line_is_scored_again(tmp_path: Path) -> None:
    cache = tmp_path / "teacher" / "v9.tsv"
    first = Counting()
    texts = [f"第{i}条" * (i % 7 + 1) for i in range(1200)]
    got = TeacherScores(cache, first).of(texts, progress=False)
    assert got == pytest.approx([len(t) / 100 for t in texts], abs=1e-6)
    assert sorted(first.seen) == sorted(set(texts))
    lines = cache.read_text(encoding="utf-8").splitlines()
    cache.write_text("\n".join(lines[:-1]) + "\n" + lines[-1].split("\t")[0], encoding="utf-8")
    again = Counting()
    resumed = TeacherScores(cache, again)
    assert len(resumed) == len(texts) - 1
    assert resumed.of(texts, progress=False) == pytest.approx(got)
    assert len(again.seen) == 1  # only the line the "crash" cut short


def test_targets_for_labelled_and_unlabelled_rows(tmp_path: Path) -> None:
    train = [Example("分手了好难受", 1, weight=3.0), Example("今天吃火锅", 0)]
    unlabelled = [Example("一二三四五六七八九十" * 2, 0, source="u"), Example("短", 0, source="u")]
    rows, report = with_teacher_targets(
        train, unlabelled, TeacherScores(tmp_path / "s.tsv", Counting()), 0.1, progress=False
    )
    assert [(e.label, e.weight, e.target) for e in rows] == [
        (1, 3.0, pytest.approx(0.06)),  # a labelled row keeps its label and weight
        (0, 1.0, pytest.approx(0.05)),
        (1, 1.0, pytest.approx(0.2)),  # an unlabelled row: the teacher's decision at 0.1
        (0, 1.0, pytest.approx(0.01)),
    ]
    assert report["unlabelled_rows"] == 2 and report["unlabelled_above_threshold"] == 1


@pytest.fixture
def distil_recipe(tmp_path: Path) -> Path:
    labelled = fixture_examples(tmp_path / "labelled.tsv")
    corpus = tmp_path / "corpus.tsv"
    extra = ["昨晚梦见前任了，醒来哭了", "周末去爬山看日出", "held-out 这条不能进训练"]
    rows = [("u0", LOVELORN[0])] + [(f"u{i + 1}", t) for i, t in enumerate(extra)]
    corpus.write_text("".join(f"{i}\t{t}\n" for i, t in rows), encoding="utf-8")
    holdout = tmp_path / "dev.tsv"
    holdout.write_text("id\tlovelorn\nu3\t0\n", encoding="utf-8")
    recipe = tmp_path / "distil.toml"
    recipe.write_text(
        f"""
[holdout]
labels = "{holdout}"
corpus = "{corpus}"
corpus_columns = ["id", "text"]
[[sources]]
name = "fixture"
path = "{labelled}"
[[unlabelled]]
name = "corpus"
path = "{corpus}"
columns = ["id", "text"]
""",
        encoding="utf-8",
    )
    return recipe


def test_unlabelled_texts_leave_out_labelled_and_held_out_ones(distil_recipe: Path) -> None:
    plan = load_recipe(distil_recipe)
    exclusion = plan.exclusion()
    labelled, _ = plan.examples(exclusion)
    unlabelled, reports = plan.unlabelled_examples(exclusion, labelled)
    assert [e.text for e in unlabelled] == ["昨晚梦见前任了，醒来哭了", "周末去爬山看日出"]
    [report] = reports
    assert (report.source, report.excluded, report.kept, report.classes) == (
        "corpus (unlabelled)",
        1,
        2,
        {},
    )


def test_a_student_learns_from_a_registry_version(
    tiny_home: Path, distil_recipe: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    shutil.copytree(tiny_home, home)
    monkeypatch.setenv("LOVELORN_HOME", str(home))
    args = ["train", "--recipe", str(distil_recipe), "--from-scratch", "test", "--quiet"]
    refused = run_cli(*args, "--epochs", "1")
    assert (
        refused.code != 0 and "need a registry version to score them: --teacher vN" in refused.err
    )
    result = run_cli(*args, "--teacher", "v1", "--epochs", "12", "--lr", "5e-3")
    assert result.code == 0, result.err
    report = json.loads((home / "models/versions/v2/report/report.json").read_text())
    teacher = report["teacher"]
    assert (teacher["version"], teacher["unlabelled_rows"]) == ("v1", 2)
    assert teacher["labelled_rows"] == report["split_sizes"]["train"]
    assert teacher["mean_target"]["lovelorn"] > 0.9 > 0.1 > teacher["mean_target"]["normal"]
    cached = (home / "teacher_scores" / "v1.tsv").read_text(encoding="utf-8").splitlines()
    assert len(cached) == report["split_sizes"]["train"] + 2
    from monitor import Detector
    from monitor.settings import Settings

    with Detector.load("v2", settings=Settings(home=home)) as student:
        scores = np.array([d.score for d in student(LOVELORN + EVERYDAY)])
    assert scores[: len(LOVELORN)].mean() > scores[len(LOVELORN) :].mean() + 0.3
