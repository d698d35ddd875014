"""What a model version says about itself: the contract between trainer and scorers."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

__all__ = ["MANIFEST", "Calibration", "Manifest", "PRPoint", "PrecisionGate"]

MANIFEST = "manifest.json"


class PRPoint(BaseModel):
    """One point of the validation precision–recall curve, used to turn policies into thresholds."""

    model_config = ConfigDict(frozen=True)
    threshold: float
    precision: float
    recall: float


class PrecisionGate(BaseModel):
    """How a reduced CPU precision scored the version's validation texts against fp32 at export.

    Scorers run a reduced precision only when ``passed``; ``max_abs_dp``/``d_ap`` are None
    when it could not be measured (``reason`` says why, e.g. the exporting CPU lacks the ISA).
    """

    model_config = ConfigDict(frozen=True)
    precision: str
    passed: bool
    max_abs_dp: float | None = None
    d_ap: float | None = None
    texts: int = 0
    reason: str = ""


class Calibration(BaseModel):
    """Platt scaling fitted on the validation part: P(lovelorn) = sigmoid(a·m + b), where m is
    the lovelorn logit minus the normal one. A score then reads as a probability at the
    training data's prevalence; it is monotone, so the ranking does not change."""

    model_config = ConfigDict(frozen=True)
    method: Literal["platt"] = "platt"
    a: float
    b: float
    texts: int = 0
    ece_before: float | None = None  # expected calibration error on validation, 10 bins
    ece_after: float | None = None


class CascadePlan(BaseModel):
    """A fast ``first`` version scores every text; this version re-scores those whose first
    score is within [low, high] (``lovelorn models cascade``; model/cascade.py)."""

    first: str
    low: float = Field(ge=0, le=1)
    high: float = Field(ge=0, le=1)
    measured: dict[str, float] = {}  # on the labelled texts that chose the band


class Manifest(BaseModel):
    """``threshold`` is the serving threshold; ``metrics`` holds the paper's figures at 0.5
    (``test``) and the figures at the serving threshold (``test_at_threshold``)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    version: str
    created_at: AwareDatetime
    base_model: str
    task: str = "lovelorn"
    labels: list[str] = ["normal", "lovelorn"]
    max_seq_len: int
    threshold: float = Field(ge=0, le=1)
    threshold_rule: str = "max validation F1"
    data_hash: str
    split_sizes: dict[str, int] = {}
    metrics: dict[str, Any] = {}
    validation_pr: list[PRPoint] = []
    files: dict[str, str] = {}
    notes: str = ""
    provenance: dict[str, Any] = {}
    precision_gates: dict[str, PrecisionGate] = {}  # absent in older manifests: fp32 only
    calibration: Calibration | None = None  # absent: the softmax is the score
    cascade: CascadePlan | None = None  # absent: no fast first stage recorded

    def served_metric(self, name: str = "macro_f1") -> float | None:
        """A test figure at the serving threshold (what users get), falling back to 0.5."""
        for part in ("test_at_threshold", "test"):
            value = self.metrics.get(part, {}).get(name)
            if isinstance(value, (int, float)):
                return float(value)
        return None
