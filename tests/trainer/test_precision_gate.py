"""Export-time precision gates on the tiny model, and the predictor honouring them."""

from pathlib import Path

import numpy as np
import pytest

from monitor.errors import ScoringError
from monitor.model import ModelRegistry
from monitor.model.precision import MAX_ABS_DP, cpu_support
from monitor.model.predictor import PaddlePredictor
from monitor.settings import ScorerSettings
from tests.fixtures import EVERYDAY, LOVELORN, TEXTS, make_manifest


def _v1(tiny_home: Path):  # type: ignore[no-untyped-def]
    registry = ModelRegistry(tiny_home / "models")
    return registry.path("v1"), registry.manifest("v1")


def test_export_records_a_gate_per_reduced_precision(tiny_home: Path) -> None:
    _, manifest = _v1(tiny_home)
    assert set(manifest.precision_gates) == {"bf16", "int8"}
    for precision, gate in manifest.precision_gates.items():
        assert gate.precision == precision
        assert gate.passed or gate.reason  # a refusal always says why
        if cpu_support(precision) is not None:
            assert not gate.passed and "not measured" in gate.reason


def test_predictor_refuses_a_precision_whose_gate_did_not_pass(tiny_home: Path) -> None:
    model_dir, manifest = _v1(tiny_home)
    for precision in ("bf16", "int8"):
        if manifest.precision_gates[precision].passed and cpu_support(precision) is None:
            continue
        with pytest.raises(ScoringError, match=f"precision={precision} refused for v1"):
            PaddlePredictor(model_dir, ScorerSettings(device="cpu", precision=precision), manifest)
    ungated = manifest.model_copy(update={"precision_gates": {}})
    with pytest.raises(ScoringError, match="refused"):
        PaddlePredictor(model_dir, ScorerSettings(device="cpu", precision="bf16"), ungated)


def test_auto_falls_back_to_fp32_when_nothing_is_gated(tiny_home: Path) -> None:
    model_dir, manifest = _v1(tiny_home)
    ungated = manifest.model_copy(update={"precision_gates": {}})
    predictor = PaddlePredictor(model_dir, ScorerSettings(device="cpu"), ungated)
    try:
        assert predictor.precision == "fp32"
        assert predictor.probabilities(TEXTS[:4]).shape == (4,)
    finally:
        predictor.close()


def test_bf16_probabilities_stay_within_tolerance(tiny_home: Path) -> None:
    why = cpu_support("bf16")
    if why is not None:
        pytest.skip(f"bf16 not runnable here: {why}")
    model_dir, manifest = _v1(tiny_home)
    settings = ScorerSettings(device="cpu", precision="fp32")
    scores = {}
    for precision in ("fp32", "bf16"):
        predictor = PaddlePredictor(model_dir, settings, manifest, measuring=precision)
        try:
            scores[precision] = predictor.probabilities(TEXTS)
        finally:
            predictor.close()
    assert np.abs(scores["bf16"] - scores["fp32"]).max() <= MAX_ABS_DP


def test_gates_measure_what_the_cpu_runs(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The measuring path, with the predictor faked: bf16 runnable and close, int8 not."""
    from monitor.model import gates as export

    def fake_probabilities(out_dir, manifest, texts, precision):  # type: ignore[no-untyped-def]
        base = np.linspace(0.05, 0.95, len(texts))
        return base + (0.001 if precision == "bf16" else 0.0)

    monkeypatch.setattr(export, "cpu_support", lambda p: None if p != "int8" else "no VNNI")
    monkeypatch.setattr(export, "_probabilities", fake_probabilities)
    manifest = make_manifest("staged")
    measured = export.precision_gates(tmp_path, manifest, TEXTS, [i % 2 for i in range(len(TEXTS))])
    assert measured["bf16"].passed and measured["bf16"].texts == len(TEXTS)
    assert measured["bf16"].max_abs_dp == pytest.approx(0.001)
    assert not measured["int8"].passed and "no VNNI" in measured["int8"].reason
    no_labels = export.precision_gates(tmp_path, manifest, TEXTS, [0] * len(TEXTS))
    assert not no_labels["bf16"].passed and "no labels" in no_labels["bf16"].reason


def test_models_gate_measures_again_and_records_it(
    tiny_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`lovelorn models gate` re-measures a version on this CPU (from its validation part or
    from --data) and writes the result into its manifest; without labels it says what to pass."""
    from tests.fixtures import copy_home, run_cli, write_tsv

    home = copy_home(tiny_home, tmp_path)
    monkeypatch.setenv("LOVELORN_HOME", str(home))
    registry = ModelRegistry(home / "models")
    registry.record_gates("v1", {})  # as a manifest written before gates existed
    result = run_cli("models", "gate", "v1")
    assert result.code == 0, result.err
    assert set(registry.manifest("v1").precision_gates) == {"bf16", "int8"}
    for precision in ("bf16", "int8"):
        assert f"v1 {precision}: " in result.out
    data = write_tsv(
        tmp_path / "labelled.tsv", [(t, "1") for t in LOVELORN] + [(t, "0") for t in EVERYDAY]
    )
    assert run_cli("models", "gate", "v1", "--data", str(data)).code == 0
    (registry.path("v1") / "split.jsonl").unlink()
    refused = run_cli("models", "gate", "v1")
    assert refused.code == 1 and "pass --data" in refused.err and "Traceback" not in refused.err
