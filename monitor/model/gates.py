"""Measure a version's reduced CPU precisions against fp32 on labelled texts, on this CPU.

The export runs it on the validation part; ``lovelorn models gate VERSION`` runs it again
later (on a machine whose CPU has the ISA, or with other labelled texts) and records the
result in the version's manifest, so ``scorer.precision=auto`` can use what passed.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from monitor.model.manifest import Manifest, PrecisionGate
from monitor.model.precision import REDUCED, Precision, cpu_support, judge
from monitor.model.predictor import PaddlePredictor
from monitor.model.thresholds import average_precision
from monitor.settings import ScorerSettings

__all__ = ["GATE_MAX_TEXTS", "precision_gates"]

GATE_MAX_TEXTS = 2048  # labelled texts scored per precision: bounds the cost


def _probabilities(
    out_dir: Path, manifest: Manifest, texts: Sequence[str], precision: Precision
) -> np.ndarray:
    settings = ScorerSettings(device="cpu", max_batch=32, precision="fp32")
    predictor = PaddlePredictor(out_dir, settings, manifest, measuring=precision)
    try:
        return predictor.probabilities(texts)
    finally:
        predictor.close()


def precision_gates(
    out_dir: Path, manifest: Manifest, texts: Sequence[str], labels: Sequence[int]
) -> dict[str, PrecisionGate]:
    """One gate record per reduced precision, on (at most GATE_MAX_TEXTS of) the validation
    texts. A precision this CPU cannot run is recorded as not passed, with the reason, so
    scorers never use a precision nobody measured."""
    texts, y = list(texts)[:GATE_MAX_TEXTS], np.asarray(list(labels)[:GATE_MAX_TEXTS], int)
    has_labels = len(y) > 0 and 0 < y.sum() < len(y)
    reference: np.ndarray | None = None
    gates: dict[str, PrecisionGate] = {}
    for precision in REDUCED:
        why = cpu_support(precision)
        if why is not None or not texts:
            reason = f"not measured: {why or 'no validation texts'}"
            gates[precision] = PrecisionGate(precision=precision, passed=False, reason=reason)
            continue
        if reference is None:
            reference = _probabilities(out_dir, manifest, texts, "fp32")
        try:
            scores = _probabilities(out_dir, manifest, texts, precision)
        except Exception as exc:  # oneDNN refused at run time: a record, never a crash
            reason = f"not measured: {precision} did not run ({str(exc).splitlines()[0][:120]})"
            gates[precision] = PrecisionGate(precision=precision, passed=False, reason=reason)
            continue
        gates[precision] = judge(
            precision,
            reference,
            scores,
            ap_reference=average_precision(y, reference) if has_labels else None,
            ap_scores=average_precision(y, scores) if has_labels else None,
        )
    return gates
