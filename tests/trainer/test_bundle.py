"""The bundled model is made from a registry version: serving files and provenance only."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from monitor.model import ModelRegistry
from monitor.model.bundled import unpack
from monitor.model.params import halve, read_params, widen, write_params
from trainer.bundle import MAX_STORAGE_DP, SHIPPED_FILES, BundleError, bundle, main


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

    storage = fields["provenance"]["float16_storage"]
    assert storage["texts"] == 12 and 0 < storage["max_abs_dp"] <= MAX_STORAGE_DP
    original = tiny_home / "models" / "versions" / "v1" / "inference.pdiparams"
    assert (out / "inference.pdiparams.fp16").stat().st_size < 0.6 * original.stat().st_size

    fresh = ModelRegistry(tmp_path / "models", seed=unpack(out, tmp_path / "cache"))
    assert fresh.current() == "v1"
    assert fresh.manifest().threshold == trained.threshold
    widened = fresh.path() / "inference.pdiparams"
    assert widened.stat().st_size == original.stat().st_size
    shipped = [t.data for t in read_params(widened)]
    for mine, theirs in zip(shipped, (t.data for t in read_params(original)), strict=True):
        assert np.allclose(mine, theirs, rtol=1e-3, atol=1e-4)


def test_parameter_files_round_trip_byte_for_byte(tiny_home: Path, tmp_path: Path) -> None:
    original = tiny_home / "models" / "versions" / "v1" / "inference.pdiparams"
    write_params(tmp_path / "copy", read_params(original))
    assert (tmp_path / "copy").read_bytes() == original.read_bytes()
    halve(original, tmp_path / "half")
    widen(tmp_path / "half", tmp_path / "wide")
    assert (tmp_path / "wide").stat().st_size == original.stat().st_size


def test_a_directory_without_an_export_is_refused(tmp_path: Path) -> None:
    (tmp_path / "v1").mkdir()
    with pytest.raises(BundleError, match="not an exported version"):
        bundle(tmp_path / "v1", tmp_path / "out")
    assert not (tmp_path / "out").exists()
