"""The bundled model is made from a registry version: serving files and provenance only."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from monitor.model import ModelRegistry
from trainer.bundle import SHIPPED_FILES, BundleError, bundle, main


def test_a_bundle_ships_serving_files_only_and_seeds_a_fresh_registry(
    tiny_home: Path, tmp_path: Path
) -> None:
    out = tmp_path / "bundled_model"
    result = CliRunner().invoke(
        main, ["--home", str(tiny_home), "--model", "v1", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert {p.name for p in out.iterdir()} == {*SHIPPED_FILES, "manifest.json"}
    fields = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    trained = ModelRegistry(tiny_home / "models").manifest("v1")
    assert fields["version"] == "bundled"
    assert fields["provenance"]["bundled_from"] == "v1"
    assert fields["threshold"] == trained.threshold
    assert "split.jsonl" not in fields["files"] and "report" not in fields["files"]

    fresh = ModelRegistry(tmp_path / "models", seed=out)
    assert fresh.current() == "v1"
    assert fresh.manifest().threshold == trained.threshold
    assert (fresh.path() / "inference.pdiparams").read_bytes() == (
        tiny_home / "models" / "versions" / "v1" / "inference.pdiparams"
    ).read_bytes()


def test_a_directory_without_an_export_is_refused(tmp_path: Path) -> None:
    (tmp_path / "v1").mkdir()
    with pytest.raises(BundleError, match="not an exported version"):
        bundle(tmp_path / "v1", tmp_path / "out")
    assert not (tmp_path / "out").exists()
