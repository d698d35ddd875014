"""Two models in a row: a fast first stage scores every text, and the slow, better second
stage re-scores only the texts whose first score falls in the band where it is unsure.

A text's score is the second stage's inside the band and the first stage's outside it. The
band is chosen on labelled texts (the second stage's validation part) as the narrowest one
that loses at most ``max_ap_loss`` average precision against the second stage alone, and it
always spans every alert policy's threshold, so each alert is decided by the second stage.
``lovelorn models cascade FIRST SECOND`` records it in SECOND's manifest; a scorer with
``scorer.cascade = true`` serving SECOND then runs both.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from monitor.errors import ScoringError
from monitor.model.manifest import CascadePlan, Manifest
from monitor.model.predictor import PaddlePredictor
from monitor.model.registry import ModelRegistry
from monitor.model.thresholds import average_precision
from monitor.settings import ScorerSettings

__all__ = ["CascadePredictor", "cascade_scores", "choose_band", "open_predictor"]

GRID = 48  # candidate band edges on each side


def cascade_scores(
    first: np.ndarray, second: np.ndarray, low: float, high: float
) -> tuple[np.ndarray, np.ndarray]:
    """The cascade's scores and which texts reached the second stage."""
    unsure = (first >= low) & (first <= high)
    return np.where(unsure, second, first), unsure


def choose_band(
    labels: Sequence[int],
    first: np.ndarray,
    second: np.ndarray,
    thresholds: Sequence[float],
    *,
    max_ap_loss: float = 0.005,
) -> tuple[float, float, dict[str, float]]:
    """The narrowest band (fewest texts re-scored) whose cascade keeps average precision
    within ``max_ap_loss`` of the second stage's on these texts; it contains every
    threshold. Falls back to re-scoring everything when no narrower band qualifies."""
    y = np.asarray(labels)
    first, second = np.asarray(first, dtype=np.float64), np.asarray(second, dtype=np.float64)
    lowest, highest = min(thresholds), max(thresholds)
    below, above = first[first < lowest], first[first > highest]
    lows = np.unique(
        np.r_[lowest, np.quantile(below, np.linspace(0, 1, GRID))] if below.size else [lowest]
    )
    highs = np.unique(
        np.r_[highest, np.quantile(above, np.linspace(0, 1, GRID))] if above.size else [highest]
    )
    alone = average_precision(y, second)
    target = alone - max_ap_loss
    best = (1.0, -alone, 0.0, 1.0)  # share, -AP, low, high: all re-scored
    for low in lows:
        for high in highs:
            scores, unsure = cascade_scores(first, second, low, high)
            share = float(unsure.mean())
            if share > best[0]:
                continue
            ap = average_precision(y, scores)
            if ap >= target and (share, -ap) < best[:2]:
                best = (share, -ap, float(low), float(high))
    share, neg_ap, low, high = best
    return (
        low,
        high,
        {
            "texts": len(y),
            "share_rescored": share,
            "ap_first": average_precision(y, first),
            "ap_second": alone,
            "ap_cascade": -neg_ap,
            "max_ap_loss": max_ap_loss,
        },
    )


class CascadePredictor:
    """The scorer's predictor for a cascade: same contract as ``PaddlePredictor``, with the
    second stage's version and manifest (its thresholds decide the alerts)."""

    def __init__(self, first: PaddlePredictor, second: PaddlePredictor, plan: CascadePlan) -> None:
        self.first, self.second, self.plan = first, second, plan
        self.version: str = second.version
        self.manifest: Manifest = second.manifest
        self.scored = 0
        self.rescored = 0
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cascade")

    def probabilities(self, texts: Sequence[str]) -> np.ndarray:
        scores = self.first.probabilities(texts)
        unsure = np.flatnonzero((scores >= self.plan.low) & (scores <= self.plan.high))
        if unsure.size:
            scores[unsure] = self.second.probabilities([texts[i] for i in unsure])
        self.scored += len(texts)
        self.rescored += int(unsure.size)
        return scores

    async def predict(self, texts: Sequence[str]) -> np.ndarray:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self.probabilities, list(texts))

    def close(self) -> None:
        self._executor.shutdown(wait=True)
        self.first.close()
        self.second.close()


def open_predictor(
    registry: ModelRegistry, settings: ScorerSettings, version: str | None = None
) -> PaddlePredictor | CascadePredictor:
    """The predictor a scorer serves ``version`` (default: ``settings.model``) with: the
    version alone, or its recorded cascade when ``settings.cascade`` asks for one."""
    second = PaddlePredictor.from_registry(registry, settings, version)
    if not settings.cascade:
        return second
    plan = second.manifest.cascade
    if plan is None:
        second.close()
        raise ScoringError(
            f"{second.version} has no cascade recorded: run `lovelorn models cascade FIRST "
            f"{second.version}` (FIRST: a fast version of the same task), or set "
            "scorer.cascade=false"
        )
    return CascadePredictor(
        PaddlePredictor.from_registry(registry, settings, plan.first), second, plan
    )
