"""The CPU precision setting, the accuracy gate and the choice of precision (no Paddle)."""

import numpy as np
import pytest
from pydantic import ValidationError

from monitor.errors import ScoringError
from monitor.model.manifest import Manifest, PrecisionGate
from monitor.model.precision import MAX_ABS_DAP, MAX_ABS_DP, choose_precision, cpu_support, judge
from monitor.settings import ScorerSettings
from tests.fixtures import make_manifest

pytestmark = pytest.mark.unit  # the fast layer: no broker, Redis, Paddle or network


def _gate(precision: str, passed: bool) -> PrecisionGate:
    return PrecisionGate(precision=precision, passed=passed, reason="" if passed else "too far")


def _all_run(precision: str) -> str | None:
    return None


def _no_reduced(precision: str) -> str | None:
    return None if precision == "fp32" else "no ISA"


def test_setting_values() -> None:
    assert ScorerSettings().precision == "auto"
    for value in ("fp32", "bf16", "int8", "auto"):
        assert ScorerSettings(precision=value).precision == value
    with pytest.raises(ValidationError):
        ScorerSettings(precision="fp16")


def test_old_manifest_without_gates_loads() -> None:
    manifest = make_manifest()
    assert manifest.precision_gates == {}
    again = Manifest.model_validate_json(manifest.model_dump_json())
    assert again == manifest


def test_judge_passes_within_both_tolerances() -> None:
    ref = np.array([0.1, 0.5, 0.9])
    gate = judge(
        "bf16", ref, ref + MAX_ABS_DP / 2, ap_reference=0.6, ap_scores=0.6 + MAX_ABS_DAP / 2
    )
    assert gate.passed and gate.texts == 3 and gate.reason == ""
    assert gate.max_abs_dp == pytest.approx(MAX_ABS_DP / 2)


@pytest.mark.parametrize(
    ("shift", "ap_scores", "reason"),
    [
        (MAX_ABS_DP * 2, 0.6, "max |dP|"),
        (0.0, 0.6 - 2 * MAX_ABS_DAP, "|dAP|"),
        (0.0, None, "no labels"),
        (float("nan"), 0.6, "max |dP|"),
    ],
)
def test_judge_fails(shift: float, ap_scores: float | None, reason: str) -> None:
    ref = np.array([0.2, 0.7])
    gate = judge("int8", ref, ref + shift, ap_reference=0.6, ap_scores=ap_scores)
    assert not gate.passed and reason in gate.reason


def test_judge_refuses_mismatched_scores() -> None:
    assert not judge("bf16", np.zeros(3), np.zeros(2), ap_reference=1, ap_scores=1).passed
    assert not judge("bf16", np.zeros(0), np.zeros(0), ap_reference=1, ap_scores=1).passed


def test_explicit_precision_needs_a_passed_gate_and_the_isa() -> None:
    assert choose_precision("fp32", {}, _no_reduced) == "fp32"
    with pytest.raises(ScoringError, match="no bf16 accuracy gate"):
        choose_precision("bf16", {}, _all_run, version="v7")
    with pytest.raises(ScoringError, match="gate did not pass: too far"):
        choose_precision("bf16", {"bf16": _gate("bf16", False)}, _all_run)
    with pytest.raises(ScoringError, match="no ISA"):
        choose_precision("int8", {"int8": _gate("int8", True)}, _no_reduced)
    assert choose_precision("bf16", {"bf16": _gate("bf16", True)}, _all_run) == "bf16"


def test_auto_takes_the_fastest_gated_and_supported() -> None:
    both = {"bf16": _gate("bf16", True), "int8": _gate("int8", True)}
    assert choose_precision("auto", both, _all_run) == "int8"
    only_bf16 = {"bf16": _gate("bf16", True), "int8": _gate("int8", False)}
    assert choose_precision("auto", only_bf16, _all_run) == "bf16"
    assert choose_precision("auto", both, _no_reduced) == "fp32"
    assert choose_precision("auto", {}, _all_run) == "fp32"


def test_cpu_support_never_claims_int8() -> None:
    assert cpu_support("fp32") is None
    assert cpu_support("int8")  # no int8 program is exported: always a reason
