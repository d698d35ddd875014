"""Text to model input and logits to probability: the same functions in training and serving,
so a model scores a text the same way wherever it runs."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["blank", "buckets", "encode_batch", "pad", "scores_from_logits", "softmax_positive"]


def blank(text: str) -> bool:
    """Empty or whitespace-only text carries no feeling: it is never scored as lovelorn."""
    return not text.strip()


def softmax_positive(logits: np.ndarray) -> np.ndarray:
    """P(lovelorn) from two-class logits, computed stably."""
    logits = logits.astype(np.float64)
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return (exp[:, 1] / exp.sum(axis=1)).astype(np.float32)


def scores_from_logits(logits: np.ndarray, calibration: Any | None) -> np.ndarray:
    """The served score: the softmax, or the manifest's Platt calibration of the logit margin
    (``Calibration``: sigmoid(a·(l1 − l0) + b)) when the version has one."""
    if calibration is None:
        return softmax_positive(logits)
    margin = logits[:, 1].astype(np.float64) - logits[:, 0].astype(np.float64)
    z = np.clip(calibration.a * margin + calibration.b, -500, 500)
    return (1.0 / (1.0 + np.exp(-z))).astype(np.float32)


def encode_batch(tokenizer: Any, texts: Sequence[str], max_seq_len: int) -> list[list[int]]:
    """Token ids with [CLS]/[SEP], truncated to ``max_seq_len``.

    NFKC first: the ERNIE tokenizer maps full-width letters and digits (ｈｅｌｌｏ, １２) to [UNK].
    """
    if not texts:
        return []
    encoded = tokenizer(
        [unicodedata.normalize("NFKC", t) for t in texts],
        max_length=max_seq_len,
        truncation=True,
        return_attention_mask=False,
        return_token_type_ids=False,
    )
    return list(encoded["input_ids"])


def pad(ids: Sequence[Sequence[int]], pad_id: int = 0, multiple: int = 1) -> np.ndarray:
    """Right-pad with [PAD] (id 0, which ERNIE masks out) to the longest row, rounded up to ``multiple``."""
    width = -(-max(len(x) for x in ids) // multiple) * multiple
    out = np.full((len(ids), width), pad_id, dtype=np.int64)
    for row, x in enumerate(ids):
        out[row, : len(x)] = x
    return out


def buckets(lengths: Sequence[int], max_rows: int) -> list[list[int]]:
    """Indices sorted by length, cut into groups of at most ``max_rows``."""
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    return [order[i : i + max_rows] for i in range(0, len(order), max_rows)]
