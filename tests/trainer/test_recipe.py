"""Combining labelled sources: rules, weights, priority dedupe, and no held-out leakage."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from monitor.settings import TrainerSettings
from tests.fixtures import EVERYDAY, LOVELORN, run_cli
from trainer.data import Exclusion, SourceSpec, combine_sources
from trainer.data.labelling import labelling_function, romance_cue
from trainer.data.recipe import load_recipe
from trainer.errors import DataError

SAD_OTHER = [
    "外婆今天走了，好难过",
    "考研又失败了",
    "被公司裁员了",
    "爷爷住院了",
    "养了十年的狗狗离开了",
    "毕业了舍不得室友",
    "考试挂了三科",
    "一个人在外地过年",
    "工作好累看不到希望",
    "朋友搬去国外了",
]
ANGRY = [
    "快递又丢了气死我了",
    "地铁上有人外放视频",
    "排队被人插队真的无语",
    "外卖送了两小时还是冷的",
]


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    rows = [(f"r{i}", t, "sadness") for i, t in enumerate(LOVELORN)]
    rows += [(f"s{i}", t, "sadness") for i, t in enumerate(SAD_OTHER)]
    rows += [(f"a{i}", t, "anger") for i, t in enumerate(ANGRY)]
    rows += [(f"h{i}", t, "happiness") for i, t in enumerate(EVERYDAY[:5])]
    rows.append(("dup", LOVELORN[1] + " ", "sadness"))  # the held-out text again, under another id
    path = tmp_path / "corpus.tsv"
    path.write_text("".join(f"{i}\t{t}\t{e}\n" for i, t, e in rows), encoding="utf-8")
    return path


def test_rules_and_their_negation() -> None:
    assert romance_cue("分手第三天，还是会给他发消息") and romance_cue("前任今天结婚了")
    assert not romance_cue("考研又失败了")
    assert labelling_function("not:romance_cue")("考研又失败了")
    with pytest.raises(DataError, match="unknown labelling rule"):
        labelling_function("vibes")


def test_sources_combine_with_weights_priority_and_exclusion(tmp_path: Path, corpus: Path) -> None:
    hand = tmp_path / "hand.tsv"
    # hand labels overrule the weak rule for the first text, and carry their own weight
    hand.write_text(
        f"id\ttext\tlabel\nr0\t{LOVELORN[0]}\t0\nx9\t{EVERYDAY[7]}\t0\n", encoding="utf-8"
    )
    columns = ("id", "text", "emotion")
    specs = [
        SourceSpec(hand, id_column="id", weight=10, name="hand"),
        SourceSpec(
            corpus,
            columns=columns,
            id_column="id",
            where={"emotion": ("sadness",)},
            rule="romance_cue",
            label=1,
            name="sad+cue",
        ),
        SourceSpec(
            corpus,
            columns=columns,
            id_column="id",
            where={"emotion": ("sadness",)},
            rule="not:romance_cue",
            label=0,
            weight=0.3,
            name="sad-no-cue",
        ),
        SourceSpec(
            corpus,
            columns=columns,
            id_column="id",
            where={"emotion": ("anger", "happiness")},
            label=0,
            name="other-emotions",
        ),
    ]
    held_out = Exclusion.of({"r1"}, [LOVELORN[1]])
    examples, reports = combine_sources(specs, held_out)
    by_text = {e.text: e for e in examples}
    assert (
        by_text[LOVELORN[0]].label,
        by_text[LOVELORN[0]].weight,
        by_text[LOVELORN[0]].source,
    ) == (0, 10, "hand")
    assert LOVELORN[1] not in by_text  # held out by id and, as "dup", by text
    assert all(e.weight == 0.3 and e.label == 0 for e in examples if e.source == "sad-no-cue")
    report = {r.source: r for r in reports}
    assert report["sad+cue"].shadowed == 1 and report["sad+cue"].excluded == 2
    assert report["hand"].kept == 2
    assert report["other-emotions"].kept == len(ANGRY) + 5
    assert {e.source for e in examples if e.text in SAD_OTHER} == {"sad-no-cue"}
    assert sum(r.kept for r in reports) == len(examples)


def test_recipe_file_and_training_never_see_holdout(
    tmp_path: Path, corpus: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    holdout = tmp_path / "dev.tsv"
    holdout.write_text("id\tlovelorn\tambiguous\nr1\t1\t0\ns2\t0\t0\n", encoding="utf-8")
    recipe = tmp_path / "recipe.toml"
    recipe.write_text(
        f"""
task = "lovelorn"
description = "test recipe"
[holdout]
labels = "{holdout}"
corpus = "{corpus}"
[[sources]]
name = "sad+cue"
path = "{corpus}"
columns = ["id", "text", "emotion"]
where = {{ emotion = ["sadness"] }}
rule = "romance_cue"
label = 1
[[sources]]
name = "rest"
path = "{corpus}"
columns = ["id", "text", "emotion"]
rule = "not:romance_cue"
label = 0
weight = 0.5
[trainer]
teacher = "char-ngram"
teacher_folds = 3
epochs = 5
""",
        encoding="utf-8",
    )
    plan = load_recipe(recipe)
    assert plan.exclusion().ids == {"r1", "s2"}
    monkeypatch.setenv("LOVELORN_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("LOVELORN_TRAINER__TEACHER_FOLDS", "4")  # the recipe's 3 wins over this
    result = run_cli(
        "train", "--recipe", str(recipe), "--from-scratch", "test", "--epochs", "2", "--quiet"
    )
    assert result.code == 0, result.err
    assert "held out from training: 2 ids" in result.out
    split = (tmp_path / "home" / "models" / "versions" / "v1" / "split.jsonl").read_text(
        encoding="utf-8"
    )
    texts = {json.loads(line)["text"] for line in split.splitlines()}
    assert LOVELORN[1] not in texts and SAD_OTHER[2] not in texts
    report = json.loads(
        (tmp_path / "home" / "models" / "versions" / "v1" / "report" / "report.json").read_text()
    )
    assert [s["source"] for s in report["sources"]] == ["sad+cue", "rest"]
    assert report["teacher"]["folds"] == 3  # the recipe's [trainer] table won over settings
    assert report["training"]["settings"]["epochs"] == 2  # and the command line over the recipe
    assert report["teacher"]["rows"] == report["split_sizes"]["train"]  # training part only


def test_recipe_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[[sources]]\nname = "x"\npath = "a.tsv"\nlabel = 3\n')
    with pytest.raises(DataError, match=r"sources\.0\.label"):
        load_recipe(bad)
    bad.write_text("task = 'x'\n")
    with pytest.raises(DataError, match="sources: Field required"):
        load_recipe(bad)
    with pytest.raises(DataError, match="does not exist"):
        load_recipe(tmp_path / "none.toml")
    bad.write_text('[[sources]]\nname = "x"\npath = "a.tsv"\n[trainer]\nteacher = "oracle"\n')
    with pytest.raises(DataError, match=r"bad.toml: trainer\.teacher: String should match pattern"):
        load_recipe(bad)
    bad.write_text('[[sources]]\nname = "x"\npath = "a.tsv"\n[trainer]\nepoch = 3\n')
    with pytest.raises(
        DataError, match=r"bad.toml: trainer\.epoch: Extra inputs are not permitted"
    ):
        load_recipe(bad)
    good = tmp_path / "good.toml"
    good.write_text('[[sources]]\nname = "x"\npath = "a.tsv"\n[trainer]\nteacher = "char-ngram"\n')
    merged = load_recipe(good).trainer_settings(TrainerSettings(epochs=7))
    assert (merged.teacher, merged.epochs) == ("char-ngram", 7)  # unnamed settings untouched
