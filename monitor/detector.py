"""The detector without Kafka or Redis, for notebooks and services:

    from monitor import Detector
    detector = Detector.load()                    # the model bundled in the package
    for d in detector(["分手三个月了，还是忘不了他", "春天来了，樱花都开了"]):
        print(d.score, d.policies, d.text)

Texts are cleaned as the poller cleans them, scored in micro-batches with the scorer's
predictor, and each comes back with the alert policies its score satisfies. Blank text
scores 0 and satisfies none.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Self

from monitor.errors import ModelNotFound
from monitor.model import (
    MANIFEST,
    CascadePredictor,
    Explanation,
    Manifest,
    PaddlePredictor,
    Thresholds,
    bundled_model_dir,
    explain,
    open_predictor,
    registry_for,
)
from monitor.settings import Settings
from monitor.text import clean_text

__all__ = ["Detection", "Detector"]


@dataclass(frozen=True)
class Detection:
    text: str
    score: float
    policies: list[str] = field(default_factory=list)

    @property
    def lovelorn(self) -> bool:
        """At or above the model's own threshold (the ``default`` policy)."""
        return "default" in self.policies


class Detector:
    def __init__(self, predictor: PaddlePredictor | CascadePredictor, settings: Settings) -> None:
        self._predictor = predictor
        self._batch = settings.scorer.max_batch
        self.manifest = predictor.manifest
        self.thresholds = Thresholds.from_manifest(predictor.manifest, settings.alerts)

    @classmethod
    def load(cls, model: str | Path | None = None, *, settings: Settings | None = None) -> Self:
        """``None``: the bundled model. A directory: an exported model (``manifest.json``
        beside ``inference.json``). ``"current"`` or ``"vN"``: a version of the settings'
        registry (seeded with the bundled model when empty)."""
        settings = settings or Settings()
        if model is None:
            directory = bundled_model_dir()
            if directory is None:
                raise ModelNotFound("this build has no bundled model: pass a model directory")
            return cls._from_dir(directory, settings)
        if isinstance(model, Path) or Path(model).is_dir():
            return cls._from_dir(Path(model), settings)
        return cls(open_predictor(registry_for(settings), settings.scorer, model), settings)

    @classmethod
    def _from_dir(cls, directory: Path, settings: Settings) -> Self:
        path = directory / MANIFEST
        if not path.is_file():
            raise ModelNotFound(f"{directory} holds no {MANIFEST}: not an exported model")
        manifest = Manifest.model_validate_json(path.read_bytes())
        return cls(PaddlePredictor(directory, settings.scorer, manifest), settings)

    def __call__(self, texts: Sequence[str]) -> list[Detection]:
        cleaned = [clean_text(t) for t in texts]
        out: list[Detection] = []
        for start in range(0, len(cleaned), self._batch):
            chunk = cleaned[start : start + self._batch]
            for text, p in zip(chunk, self._predictor.probabilities(chunk), strict=True):
                score = float(p)
                out.append(
                    Detection(text, score, self.thresholds.satisfied(score) if score else [])
                )
        return out

    def explain(self, text: str) -> Explanation:
        """Which characters pushed ``text``'s score up (occlusion; model/explain.py). Under a
        cascade, the second stage explains: it decides every alert."""
        cleaned = clean_text(text)
        [detection] = self([cleaned])
        model = (
            self._predictor.second
            if isinstance(self._predictor, CascadePredictor)
            else self._predictor
        )
        return explain(model.logits, cleaned, detection.score, model.max_seq_len - 2)

    def close(self) -> None:
        self._predictor.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
