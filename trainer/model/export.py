"""Dygraph model → static inference model + tokenizer files, checked against the serving path.

The parity check loads the export with ``monitor``'s own PaddlePredictor — the code the
scorers run — and refuses the export if any logit differs from the dygraph model's by
more than the tolerance. The precision gates score the validation texts through the same
predictor in fp32 and in each reduced CPU precision, for the manifest (see
``monitor.model.precision``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from monitor.model.encoding import encode_batch
from monitor.model.manifest import Manifest, PrecisionGate
from monitor.model.precision import REDUCED, Precision, cpu_support, judge
from monitor.model.predictor import PaddlePredictor
from monitor.settings import ScorerSettings
from trainer.errors import ExportError
from trainer.evaluation.metrics import average_precision
from trainer.model.finetune import predict_dygraph

__all__ = ["ExportError", "check_parity", "export_static", "precision_gates"]

PARITY_TOLERANCE = 1e-4
GATE_MAX_TEXTS = 2048  # validation texts scored per precision: bounds the export's cost


def export_static(model: Any, tokenizer: Any, out_dir: Path) -> list[str]:
    import paddle
    from paddle.static import InputSpec

    out_dir.mkdir(parents=True, exist_ok=True)
    model.eval()
    static = paddle.jit.to_static(
        model,
        input_spec=[
            InputSpec([None, None], "int64", "input_ids"),
            InputSpec([None, None], "int64", "token_type_ids"),
        ],
        full_graph=True,
    )
    paddle.jit.save(static, str(out_dir / "inference"))
    tokenizer.save_pretrained(str(out_dir))
    return sorted(p.name for p in out_dir.iterdir())


def check_parity(
    model: Any, tokenizer: Any, out_dir: Path, manifest: Manifest, texts: Sequence[str]
) -> float:
    """Max |logit difference| between dygraph and the exported predictor on ``texts``."""
    predictor = PaddlePredictor(out_dir, ScorerSettings(device="cpu", max_batch=32), manifest)
    try:
        exported = predictor.logits(texts)
    finally:
        predictor.close()
    reference = predict_dygraph(model, encode_batch(tokenizer, texts, manifest.max_seq_len))
    diff = float(np.abs(exported - reference).max()) if len(texts) else 0.0
    if diff > PARITY_TOLERANCE:
        raise ExportError(
            f"exported model differs from the trained one by {diff:.2e} (> {PARITY_TOLERANCE:.0e}); not registered"
        )
    return diff


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
