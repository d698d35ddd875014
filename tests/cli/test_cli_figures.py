"""Figures and small things a user reads (first-hour items 8 and 9): the serving threshold's
figures in `models list`, no silent default model, blank text is not lovelorn, passwords
stay masked, and the CLI has a version and refuses nonsense options."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from monitor.model import ModelRegistry
from tests.fixtures import fixture_examples, register_stub, run_cli


def test_models_list_and_the_gate_use_the_serving_threshold(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Item 8: `models list` and the gate showed F1 at 0.5, not at the version's threshold."""
    monkeypatch.setenv("LOVELORN_HOME", str(tmp_path))
    registry = ModelRegistry(tmp_path / "models")
    register_stub(
        registry,
        tmp_path,
        {"test": {"macro_f1": 0.50}, "test_at_threshold": {"macro_f1": 0.80}},
        threshold=0.3,
    )
    register_stub(
        registry,
        tmp_path,
        {"test": {"macro_f1": 0.90}, "test_at_threshold": {"macro_f1": 0.60}},
        threshold=0.3,
    )
    assert run_cli("models", "promote", "v1").code == 0
    listing = run_cli("models", "list").out
    assert "* v1" in listing and "0.8000" in listing and "0.5000" not in listing
    refused = run_cli("models", "promote", "v2")  # better at 0.5, worse as served
    assert refused.code == 1 and "0.6000 (at its serving threshold)" in refused.err


def test_train_without_a_model_choice_is_a_usage_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Item 8: it silently built a from-scratch nano that scored every text 0.53."""
    monkeypatch.setenv("LOVELORN_HOME", str(tmp_path))
    result = run_cli("train", "--data", str(fixture_examples(tmp_path / "f.tsv")), "--quiet")
    assert result.code == 2 and "choose a model: --pretrained" in result.err
    assert not (tmp_path / "models").exists()


def test_blank_text_is_never_lovelorn(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Item 8: `classify ""` returned 0.989 and every policy."""
    monkeypatch.setenv("LOVELORN_HOME", str(tmp_path))
    monkeypatch.setenv("LOVELORN_REGISTRY__BUNDLED", "true")
    result = run_cli("classify", "", "   ", "分手了")
    lines = result.out.splitlines()
    assert result.code == 0 and len(lines) == 3
    assert lines[0].split("\t")[:2] == ["0.0000", "-"]
    assert lines[1].split("\t")[:2] == ["0.0000", "-"]
    assert float(lines[2].split("\t")[0]) > 0


def test_config_show_masks_a_password_inside_the_redis_url(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Item 9."""
    monkeypatch.setenv("LOVELORN_HOME", str(tmp_path))
    monkeypatch.setenv("LOVELORN_REDIS__URL", "redis://:hunter2@redis.internal:6379/0")
    result = run_cli("config", "show")
    assert result.code == 0 and "hunter2" not in result.out
    assert json.loads(result.out)["redis"]["url"] == "redis://:**********@redis.internal:6379/0"


def test_version_and_a_negative_speed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Item 9: no `lovelorn --version`; `poll --speed -1` was accepted."""
    from importlib.metadata import version

    monkeypatch.setenv("LOVELORN_HOME", str(tmp_path))
    shown = run_cli("--version")
    assert (
        shown.code == 0 and shown.out.strip() == f"lovelorn, version {version('lovelorn-monitor')}"
    )
    negative = run_cli("poll", "--from-file", "x.jsonl", "--speed", "-1")
    assert negative.code == 2 and "--speed" in negative.err
