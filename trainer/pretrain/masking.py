"""Masked-language-model inputs: whole-character masking at 15% (80% [MASK], 10% a random
token, 10% unchanged), on dynamically padded batches.

Our vocabulary is one token per CJK character, so "whole character" matters for the rest:
a Latin word or number the WordPiece tokenizer cut into ``x ##y ##z`` is one unit and all
its pieces get the same treatment, otherwise the model learns to spell from the neighbouring
pieces instead of reading the context.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from monitor.model import pad

__all__ = ["MaskedBatch", "Masker"]


@dataclass(frozen=True)
class MaskedBatch:
    input_ids: np.ndarray  # (rows, width) int64, padded with 0
    positions: np.ndarray  # (masked,) int64, flat indices into input_ids (row * width + col)
    labels: np.ndarray  # (masked,) int64, the original token at each position


class Masker:
    """Chooses and corrupts the units to predict; all randomness comes from the caller's
    generator, so a batch is a function of (token ids, generator state)."""

    def __init__(
        self,
        vocab: Sequence[str],
        *,
        rate: float = 0.15,
        mask_token: str = "[MASK]",
        special_tokens: Sequence[str] = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"),
    ) -> None:
        if not 0 < rate < 1:
            raise ValueError("the masking rate must lie in (0, 1)")
        index = {t: i for i, t in enumerate(vocab)}
        self.rate = rate
        self.mask_id = index[mask_token]
        self.special = np.zeros(len(vocab), dtype=bool)
        for token in special_tokens:
            if token in index:
                self.special[index[token]] = True
        self.continuation = np.array([t.startswith("##") for t in vocab], dtype=bool)
        # Replacement tokens: any ordinary token, never a special one.
        self.ordinary = np.flatnonzero(~self.special)

    def units(self, ids: Sequence[int]) -> list[list[int]]:
        """Positions grouped into maskable units: a ``##`` piece joins the unit before it;
        special tokens ([CLS], [SEP], [UNK], padding) are never predicted."""
        out: list[list[int]] = []
        for position, token in enumerate(ids):
            if self.special[token]:
                continue
            if self.continuation[token] and out and out[-1][-1] == position - 1:
                out[-1].append(position)
            else:
                out.append([position])
        return out

    def __call__(self, batch: Sequence[Sequence[int]], rng: np.random.Generator) -> MaskedBatch:
        inputs = pad(batch)
        width = inputs.shape[1]
        positions: list[int] = []
        labels: list[int] = []
        for row, ids in enumerate(batch):
            units = self.units(ids)
            if not units:
                continue
            budget = max(1, round(self.rate * sum(len(u) for u in units)))
            chosen = 0
            for u in rng.permutation(len(units)):
                if chosen >= budget:
                    break
                unit = units[u]
                chosen += len(unit)
                action = rng.random()  # one draw per unit: its pieces share the treatment
                for col in unit:
                    positions.append(row * width + col)
                    labels.append(int(ids[col]))
                    if action < 0.8:
                        inputs[row, col] = self.mask_id
                    elif action < 0.9:
                        inputs[row, col] = self.ordinary[rng.integers(len(self.ordinary))]
        return MaskedBatch(
            inputs, np.array(positions, dtype=np.int64), np.array(labels, dtype=np.int64)
        )
