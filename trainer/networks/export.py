"""Dygraph model → static inference model + tokenizer files, checked against the serving path.

The parity check loads the export with ``monitor``'s own PaddlePredictor — the code the
scorers run — and refuses the export if any logit differs from the dygraph model's by
more than the tolerance. The precision gates (``monitor.model.gates``) then score the
validation texts through the same predictor in fp32 and each reduced CPU precision.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from monitor.model import Manifest, PaddlePredictor, encode_batch
from monitor.settings import ScorerSettings
from trainer.errors import ExportError
from trainer.networks.finetune import predict_dygraph

__all__ = ["ExportError", "check_parity", "export_static"]

PARITY_TOLERANCE = 1e-4


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
