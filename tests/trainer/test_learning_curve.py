"""bench/learning_curve.py: one row per training share, and no curve when dev texts could leak."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from tests.fixtures import EVERYDAY, LOVELORN

ROOT = Path(__file__).resolve().parents[2]


def _recipe(tmp_path: Path, *, holdout: bool) -> Path:
    corpus = tmp_path / "corpus.tsv"  # id, text, emotion; ids 0-39
    corpus.write_text(
        "".join(
            f"{i}\t{t}\t{'sadness' if i < 20 else 'happiness'}\n"
            for i, t in enumerate(LOVELORN + EVERYDAY)
        ),
        encoding="utf-8",
    )
    dev = tmp_path / "dev.tsv"  # every fourth text is dev
    dev.write_text(
        "id\tlovelorn\tambiguous\n" + "".join(f"{i}\t{int(i < 20)}\t0\n" for i in range(0, 40, 4))
    )
    recipe = tmp_path / "recipe.toml"
    recipe.write_text(
        (f'[holdout]\nlabels = "{dev}"\ncorpus = "{corpus}"\n\n' if holdout else "")
        + f'[[sources]]\nname = "corpus"\npath = "{corpus}"\ncolumns = ["id", "text", "emotion"]\n'
        + 'label_column = "emotion"\nlabel_map = { sadness = 1, happiness = 0 }\n'
    )
    return recipe


def _run(recipe: Path, tmp_path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    args = ["--recipe", str(recipe), "--dev-labels", str(tmp_path / "dev.tsv"), *extra]
    args += ["--corpus", str(tmp_path / "corpus.tsv"), "--fractions", "0.5,1", "--repeats", "2"]
    return subprocess.run(
        [sys.executable, "bench/learning_curve.py", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={"LOVELORN_HOME": str(tmp_path / "home"), "PATH": "/usr/bin:/bin"},
    )


def test_one_row_per_share_on_the_held_out_dev_texts(tmp_path: Path) -> None:
    done = _run(_recipe(tmp_path, holdout=True), tmp_path, "--half", "all")
    assert done.returncode == 0, done.stderr
    assert "dev: all (10 texts, 5 lovelorn), checked: none in the training rows" in done.stdout
    rows = [line for line in done.stdout.splitlines() if line.startswith("| 50%")]
    rows += [line for line in done.stdout.splitlines() if line.startswith("| 100%")]
    assert len(rows) == 2
    # 30 texts once the dev ten are out, 15 lovelorn; the curve trains on the 8:1:1 split's
    # training part only: all of its lovelorn rows at 100%, half of them at 50%
    lovelorn = int(re.search(r"training part \d+ rows, (\d+) lovelorn", done.stdout)[1])
    assert 10 <= lovelorn < 15
    assert rows[1].split(" | ")[1] == str(lovelorn)
    assert rows[0].split(" | ")[1] == str(round(lovelorn / 2))


def test_refuses_a_recipe_that_trains_on_dev_texts(tmp_path: Path) -> None:
    done = _run(_recipe(tmp_path, holdout=False), tmp_path)
    assert done.returncode == 1
    assert "does not keep the dev texts out of training" in done.stderr
    assert "Traceback" not in done.stderr


def test_by_default_only_dev_half_a_is_scored(tmp_path: Path) -> None:
    done = _run(_recipe(tmp_path, holdout=True), tmp_path)
    assert done.returncode == 0, done.stderr
    match = re.search(r"dev: A \((\d+) texts, (\d+) lovelorn\)", done.stdout)
    assert match and 0 < int(match[1]) < 10 and 0 < int(match[2]) < 5
