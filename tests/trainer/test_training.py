"""Fine-tuning, export parity and the train command, on the tiny ``test`` configuration."""

import json
from pathlib import Path

import numpy as np
import pytest

from monitor.model import ModelRegistry, encode_batch, softmax_positive
from monitor.settings import Settings
from tests.fixtures import EVERYDAY, FIT, LOVELORN, fixture_examples, run_cli, train_tiny
from trainer.data import Example
from trainer.errors import ModelError
from trainer.evaluation.metrics import binary_report
from trainer.networks.build import build_from_scratch, load_pretrained
from trainer.networks.finetune import fine_tune, predict_dygraph


def test_training_fits_fixture_examples(tmp_path: Path) -> None:
    examples = [Example(t, 1) for t in LOVELORN] + [Example(t, 0) for t in EVERYDAY]
    built = build_from_scratch("test", tmp_path, seed=3, max_seq_len=64)
    result = fine_tune(built.model, built.tokenizer, examples, examples, FIT, progress=False)
    losses = [h["train_loss"] for h in result.history]
    assert losses[-1] < losses[0] * 0.5
    ids = encode_batch(built.tokenizer, [e.text for e in examples], 64)
    scores = softmax_positive(predict_dygraph(built.model, ids))
    f1 = binary_report(np.array([e.label for e in examples]), (scores >= 0.5).astype(int))[
        "macro_f1"
    ]
    assert f1 >= 0.95


def test_train_registers_exports_and_reports(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path)
    outcome = train_tiny(settings, fixture_examples(tmp_path / "forty.tsv"))
    assert outcome.parity <= 1e-4
    registry = ModelRegistry(settings.registry_root)
    assert registry.current() == outcome.manifest.version == "v1"
    version_dir = registry.path("v1")
    for name in (
        "inference.json",
        "inference.pdiparams",
        "vocab.txt",
        "tokenizer_config.json",
        "manifest.json",
        "split.jsonl",
        "report/report.json",
        "report/report.md",
        "report/pr_curve.png",
        "report/confusion_test.png",
        "report/training.png",
    ):
        assert (version_dir / name).is_file(), name
    manifest = registry.manifest()
    assert manifest.split_sizes == {"train": 96, "validation": 12, "test": 12}
    assert 0 <= manifest.threshold <= 1 and manifest.validation_pr
    report = json.loads((version_dir / "report" / "report.json").read_text())
    assert set(report["metrics"]) == {"test", "test_at_threshold", "validation"}
    assert report["metrics"]["test"]["n"] == 12
    split = [json.loads(line) for line in (version_dir / "split.jsonl").read_text().splitlines()]
    assert (
        sorted({r["part"] for r in split}) == ["test", "train", "validation"] and len(split) == 120
    )


def test_local_checkpoint_directory_loads(tmp_path: Path) -> None:
    built = build_from_scratch("test", tmp_path / "v", seed=1, max_seq_len=64)
    built.model.save_pretrained(str(tmp_path / "ckpt"))
    built.tokenizer.save_pretrained(str(tmp_path / "ckpt"))
    loaded = load_pretrained(str(tmp_path / "ckpt"))
    ids = encode_batch(loaded.tokenizer, ["分手了"], 64)
    assert np.allclose(
        predict_dygraph(loaded.model, ids), predict_dygraph(built.model, ids), atol=1e-6
    )
    assert loaded.base == f"pretrained:{tmp_path / 'ckpt'}"


def test_unreachable_model_name_fails_fast_with_advice() -> None:
    with pytest.raises(ModelError, match="--from-scratch SIZE"):
        load_pretrained("ernie-3.0-tiny-nano-v2-zh")


@pytest.mark.parametrize(
    "args, message",
    [
        (
            ["--pretrained", "ernie-3.0-tiny-nano-v2-zh"],
            "could not load 'ernie-3.0-tiny-nano-v2-zh' by name",
        ),
        (["--from-scratch", "gigantic"], "unknown size 'gigantic'"),
        (["--from-scratch", "test", "--pretrained", "x"], "either --pretrained or --from-scratch"),
        (["--from-scratch", "test", "--text-column", "body"], "missing column(s) body"),
        (["--from-scratch", "test", "--label-map", "1=1,0=0,x"], "is not NAME=0 or NAME=1"),
        (["--from-scratch", "test", "--patience", "0"], "--patience: Input should be greater"),
        (["--from-scratch", "test", "--batch-size", "0"], "--batch-size: Input should be greater"),
    ],
)
def test_train_cli_errors_are_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str], message: str
) -> None:
    monkeypatch.setenv("LOVELORN_HOME", str(tmp_path))
    data = fixture_examples(tmp_path / "forty.tsv")
    result = run_cli("train", "--data", str(data), "--quiet", *args)
    assert result.code != 0
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.err
    assert "Traceback" not in result.err


def test_train_cli_refuses_single_class_and_tiny_data(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOVELORN_HOME", str(tmp_path))
    one = tmp_path / "one.tsv"
    one.write_text("text\tlabel\n" + "".join(f"文本{i}\t1\n" for i in range(30)), encoding="utf-8")
    result = run_cli("train", "--data", str(one), "--from-scratch", "test", "--quiet")
    assert result.code == 1 and "single class" in result.err
    few = tmp_path / "few.tsv"
    few.write_text(
        "text\tlabel\n" + "".join(f"文本{i}\t{i % 2}\n" for i in range(12)), encoding="utf-8"
    )
    result = run_cli("train", "--data", str(few), "--from-scratch", "test", "--quiet")
    assert result.code == 1 and "too few rows" in result.err


def test_thinned_validation_curve_keeps_every_policy_choice() -> None:
    from monitor.model import policy_threshold
    from trainer.evaluation.metrics import f1_of, pr_curve, thin_curve

    rng = np.random.default_rng(0)
    y = (rng.random(5000) < 0.03).astype(int)
    scores = np.clip(rng.normal(0.2 + 0.3 * y, 0.15), 0, 1)
    scores[np.argsort(-scores)[:3]] = [0.99, 0.98, 0.97]  # a pure head, then noise
    y[np.argsort(-scores)[:3]] = 1
    full = pr_curve(y, scores)
    thin = thin_curve(full)
    assert len(thin) <= 200 < len(full)
    for target in (0.3, 0.5, 0.6, 0.8, 0.95):
        assert policy_threshold(thin, target, 0.5) == policy_threshold(full, target, 0.5)
    best = max(full, key=lambda p: (f1_of(p), p.threshold))
    assert max(thin, key=lambda p: (f1_of(p), p.threshold)) == best
    assert thin[0] == full[0]  # the strictest threshold too


def test_the_progress_figure_is_the_saved_validation_figure(tmp_path: Path) -> None:
    """First-hour item 8: the bar's val_f1 (best over thresholds) disagreed with the manifest's
    validation figure (at 0.5). Both are now macro-F1 at the threshold the model serves with."""
    outcome = train_tiny(Settings(home=tmp_path), fixture_examples(tmp_path / "forty.tsv"))
    saved = outcome.manifest.metrics["validation"]["macro_f1"]
    assert outcome.fit.best_val_macro_f1 == pytest.approx(saved)
    best = next(h for h in outcome.fit.history if h["epoch"] == outcome.fit.best_epoch)
    assert best["val_macro_f1"] == pytest.approx(saved)
    ranking = outcome.manifest.metrics["validation_ranking"]
    assert 0 <= ranking["auc"] <= 1 and ranking["n"] == 12


def test_a_failed_export_parity_check_is_one_error_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An export that does not score like the trained model is refused, not registered, and the
    CLI says so in one line (it used to escape every handler)."""
    import trainer.networks.export as export

    monkeypatch.setenv("LOVELORN_HOME", str(tmp_path))
    monkeypatch.setattr(export, "PARITY_TOLERANCE", -1.0)  # any difference is too much
    data = fixture_examples(tmp_path / "forty.tsv")
    result = run_cli("train", "--data", str(data), "--from-scratch", "test", "--quiet")
    assert result.code == 1 and "Traceback" not in result.err
    errors = [line for line in result.err.splitlines() if line.startswith("error:")]
    assert errors == [result.err.strip().splitlines()[-1]], result.err  # one line, the last
    assert errors[0].startswith("error: exported model differs") and "not registered" in errors[0]
    assert ModelRegistry(tmp_path / "models").versions() == []
