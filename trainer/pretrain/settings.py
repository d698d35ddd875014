"""How a pretraining run is defined (and what a resumed run must keep the same)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["RUN_DEFINING", "PretrainSettings"]

# Changing these mid-run would make a resumed run a different run.
RUN_DEFINING = (
    "size",
    "max_seq_len",
    "batch_size",
    "learning_rate",
    "weight_decay",
    "warmup_steps",
    "max_steps",
    "mask_rate",
    "seed",
)


@dataclass(frozen=True)
class PretrainSettings:
    size: str = "small"
    max_seq_len: int = 128
    batch_size: int = 64
    learning_rate: float = 5e-4
    weight_decay: float = 0.01
    warmup_steps: int = 500
    max_steps: int = 20_000
    mask_rate: float = 0.15
    seed: int = 42
    max_minutes: float | None = None  # total training time, across resumes
    checkpoint_minutes: float = 10.0
    eval_every: int = 500  # steps between held-out evaluations
    eval_texts: int = 2_000  # held-out texts evaluated (a fixed, seeded masking of them)
