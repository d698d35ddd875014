"""MLM pretraining on a tiny config: it learns, resumes exactly, keeps held-out texts out, and
its output fine-tunes like any other checkpoint. No shared data: hand-written texts only."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from monitor.model.encoding import pad
from tests.fixtures import EVERYDAY, FIT, LOVELORN, TEXTS
from trainer.data import Example, Exclusion, SourceSpec
from trainer.errors import DataError
from trainer.networks.build import generate_vocab
from trainer.pretrain import Masker, PretrainSettings, build_corpus, pretrain

TINY = PretrainSettings(
    size="test",
    max_seq_len=32,
    batch_size=8,
    learning_rate=5e-3,
    warmup_steps=2,
    max_steps=24,
    seed=5,
    eval_every=12,
    eval_texts=40,
    checkpoint_minutes=60,
)


def _run(out: Path, settings: PretrainSettings = TINY, **kwargs: object):  # type: ignore[no-untyped-def]
    return pretrain(TEXTS, TEXTS, out, settings, progress=False, log=lambda _: None, **kwargs)


def _weights(directory: Path) -> dict[str, np.ndarray]:
    import paddle

    return {k: v.numpy() for k, v in paddle.load(str(directory / "model_state.pdparams")).items()}


def test_a_few_steps_lower_the_masked_lm_loss(tmp_path: Path) -> None:
    import json

    result = _run(tmp_path / "run")
    lines = [json.loads(x) for x in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    before, after = lines[0]["held_out"]["loss"], result.held_out["loss"]
    assert lines[0]["step"] == 0 and result.step == TINY.max_steps
    assert after < before - 1.0, (before, after)


def test_a_resumed_run_ends_where_an_uninterrupted_one_does(tmp_path: Path) -> None:
    straight = _run(tmp_path / "straight")
    first = _run(tmp_path / "split", stop_at_step=10)
    assert first.step == 10 and "resume" in first.stopped
    resumed = _run(tmp_path / "split")
    assert resumed.step == straight.step
    a, b = _weights(straight.model_dir), _weights(resumed.model_dir)
    assert a.keys() == b.keys()
    for key in a:
        np.testing.assert_allclose(a[key], b[key], rtol=1e-5, atol=1e-6, err_msg=key)


def test_a_checkpoint_of_another_run_is_refused(tmp_path: Path) -> None:
    _run(tmp_path / "run", stop_at_step=2)
    other = PretrainSettings(**(vars(TINY) | {"learning_rate": 1e-3}))
    with pytest.raises(DataError, match="learning_rate"):
        _run(tmp_path / "run", other)


def test_the_pretrained_encoder_fine_tunes_with_a_fresh_classifier(tmp_path: Path) -> None:
    from trainer.networks.build import load_pretrained
    from trainer.networks.finetune import fine_tune

    result = _run(tmp_path / "run")
    saved = _weights(result.model_dir)
    built = load_pretrained(str(result.model_dir))
    state = {k: v.numpy() for k, v in built.model.state_dict().items()}
    encoder = [k for k in state if k.startswith("ernie.")]
    assert encoder and all(np.array_equal(state[k], saved[k]) for k in encoder)
    assert not any(k.startswith("classifier") for k in saved)  # the head starts fresh
    rows = [Example(t, 1) for t in LOVELORN] + [Example(t, 0) for t in EVERYDAY]
    cfg = FIT.model_copy(update={"epochs": 2, "max_seq_len": TINY.max_seq_len})
    fit = fine_tune(built.model, built.tokenizer, rows, rows, cfg, progress=False)
    assert len(fit.history) == 2 and np.isfinite(fit.history[-1]["train_loss"])


def test_the_corpus_drops_held_out_ids_and_their_texts_wherever_they_appear(
    tmp_path: Path,
) -> None:
    held_text = "分手第三天，还是会下意识给他发消息"
    ocemotion = tmp_path / "oce.tsv"
    ocemotion.write_text(
        f"1\t{held_text}\tsadness\n2\t今天天气真好\thappiness\n3\t<b>今天天气真好</b>\thappiness\n"
        "4\t外婆今天走了\tsadness\n",
        encoding="utf-8",
    )
    extra = tmp_path / "extra.tsv"
    # A repost of the held-out text (spaces, a link, a tag), and an unrelated text.
    extra.write_text(
        "id\ttext\temotion\nx1\t分手第三天， 还是会下意识给他发消息 http://t.cn/abc\tsadness\n"
        "x2\t新买的咖啡机太好用了\thappiness\n",
        encoding="utf-8",
    )
    exclusion = Exclusion.of({"1", "4"}, [held_text, "外婆今天走了"])
    corpus = build_corpus(
        [
            SourceSpec(ocemotion, columns=("id", "text", "emotion"), id_column="id", name="oce"),
            SourceSpec(extra, id_column="id", name="extra"),
        ],
        exclusion,
        held_out_fraction=0.0,
    )
    assert sorted(corpus.train) == ["今天天气真好", "新买的咖啡机太好用了"]
    assert corpus.held_out == []
    oce, ext = corpus.reports
    assert (oce.excluded, oce.duplicate, oce.kept) == (2, 1, 1)
    assert (ext.excluded, ext.kept) == (1, 1)
    assert not any(exclusion.covers("", t) for t in corpus.train)


def test_the_held_out_slice_depends_on_the_text_alone() -> None:
    texts = [(str(i), f"第{i}条微博") for i in range(400)]
    a = build_corpus([], Exclusion(), held_out_fraction=0.1, texts=texts)
    b = build_corpus([], Exclusion(), held_out_fraction=0.1, texts=texts[::-1])
    assert sorted(a.held_out) == sorted(b.held_out) and 10 < len(a.held_out) < 80
    assert not set(a.held_out) & set(a.train)


def test_masking_takes_whole_characters_and_never_specials() -> None:
    vocab = generate_vocab()
    index = {t: i for i, t in enumerate(vocab)}
    masker = Masker(vocab)
    word = [index["h"], index["##e"], index["##l"], index["##l"], index["##o"]]
    row = [
        index["[CLS]"],
        *word,
        *[index[c] for c in "分手第三天还是会下意识给他发消息"],
        index["[SEP]"],
    ]
    units = masker.units(row)
    assert units[0] == [1, 2, 3, 4, 5] and all(len(u) == 1 for u in units[1:])
    rng = np.random.default_rng(0)
    counts, whole = [], 0
    for _ in range(300):
        batch = masker([row, row[:5]], rng)
        width = batch.input_ids.shape[1]
        cols = set((batch.positions % width)[batch.positions < width].tolist())
        assert 0 not in cols and len(row) - 1 not in cols  # [CLS], [SEP]
        assert cols.isdisjoint({1, 2, 3, 4, 5}) or {1, 2, 3, 4, 5} <= cols
        whole += {1, 2, 3, 4, 5} <= cols
        counts.append(len(cols) / (len(row) - 2))
        np.testing.assert_array_equal(batch.labels, pad([row, row[:5]]).flatten()[batch.positions])
    assert 0.12 < np.mean(counts) < 0.3 and whole > 0


def test_the_pretrain_command_feeds_the_train_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`lovelorn pretrain` reads a recipe's texts with its holdout kept out and writes a
    checkpoint that `lovelorn train --pretrained` fine-tunes."""
    from tests.fixtures import fixture_examples, run_cli, write_tsv

    monkeypatch.setenv("LOVELORN_HOME", str(tmp_path / "home"))
    texts = write_tsv(
        tmp_path / "texts.tsv",
        [(t, "x") for t in LOVELORN + EVERYDAY] + [("这句是开发集里的，不许读", "x")],
        header="text\tlabel",
    )
    held = tmp_path / "held.tsv"
    held.write_text("id\tlovelorn\nd1\t1\n", encoding="utf-8")
    corpus = tmp_path / "corpus.tsv"
    corpus.write_text("d1\t这句是开发集里的，不许读\tsadness\n", encoding="utf-8")
    recipe = tmp_path / "pretrain.toml"
    recipe.write_text(
        f'''task = "pretrain"
[holdout]
labels = "{held}"
corpus = "{corpus}"
[[sources]]
name = "texts"
path = "{texts}"
''',
        encoding="utf-8",
    )
    out = tmp_path / "run"
    done = run_cli(
        "pretrain",
        "--recipe",
        str(recipe),
        "--out",
        str(out),
        "--size",
        "test",
        "--max-steps",
        "3",
        "--batch-size",
        "8",
        "--max-seq-len",
        "64",
        "--quiet",
    )
    assert done.code == 0, done.err
    assert "kept 40; dropped 0 empty, 1 held out" in done.out
    assert (out / "model" / "model_state.pdparams").is_file()
    data = fixture_examples(tmp_path / "forty.tsv")
    trained = run_cli(
        "train",
        "--data",
        str(data),
        "--pretrained",
        str(out / "model"),
        "--epochs",
        "1",
        "--max-seq-len",
        "64",
        "--quiet",
    )
    assert trained.code == 0, trained.err
    assert "registered v1" in trained.out
