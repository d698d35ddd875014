"""A stand-in model for scorer tests that are about delivery, not scores: lovelorn texts of
the fixtures score 0.9, all others 0.1, instantly and identically on every CPU."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

import numpy as np

from monitor.model.manifest import Manifest
from monitor.schemas import utcnow
from tests.fixtures import LOVELORN

__all__ = ["WordModel", "word_registry"]


class WordModel:
    def __init__(self, manifest: Manifest) -> None:
        self.version, self.manifest = manifest.version, manifest

    async def predict(self, texts: Sequence[str]) -> np.ndarray:
        return np.array([0.9 if t in LOVELORN else 0.1 for t in texts], dtype=np.float32)

    def close(self) -> None:
        pass


def word_registry(home: Path) -> Callable[[str], Awaitable[WordModel]]:
    """Register v1 (threshold 0.5) in ``home``'s registry; returns a ``load_predictor``."""
    manifest = Manifest(
        version="v1",
        created_at=utcnow(),
        base_model="word list",
        max_seq_len=64,
        threshold=0.5,
        data_hash="test",
    )
    folder = home / "models" / "versions" / "v1"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "manifest.json").write_text(manifest.model_dump_json())
    (home / "models" / "CURRENT").write_text("v1")

    async def load(version: str) -> WordModel:
        return WordModel(manifest)

    return load
