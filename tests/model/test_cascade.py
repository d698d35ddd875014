"""The cascade's band: narrowest within the AP budget, spanning every threshold; the
predictor re-scores exactly the unsure texts."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from monitor.model.cascade import CascadePredictor, cascade_scores, choose_band
from monitor.model.manifest import CascadePlan
from monitor.model.thresholds import average_precision

pytestmark = pytest.mark.unit  # the fast layer: no broker, Redis, Paddle or network


def _scores(seed: int = 0, n: int = 2000) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Labels (10% positive), a noisy first stage and a sharper second stage."""
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.1).astype(int)
    second = 1 / (1 + np.exp(-(4 * y - 2 + rng.normal(0, 1.0, n))))
    first = 1 / (1 + np.exp(-(3 * y - 2.2 + rng.normal(0, 1.6, n))))
    return y, first, second


def test_band_keeps_ap_within_budget_and_spans_thresholds() -> None:
    y, first, second = _scores()
    low, high, measured = choose_band(y, first, second, [0.3, 0.6], max_ap_loss=0.005)
    assert low <= 0.3 and high >= 0.6
    scores, unsure = cascade_scores(first, second, low, high)
    assert average_precision(y, scores) >= average_precision(y, second) - 0.005
    assert measured["ap_cascade"] == pytest.approx(average_precision(y, scores))
    assert measured["share_rescored"] == pytest.approx(unsure.mean())
    assert 0 < measured["share_rescored"] < 0.9  # narrower than everything
    assert measured["ap_first"] < measured["ap_second"]
    # A looser budget never needs a wider band.
    _, _, loose = choose_band(y, first, second, [0.3, 0.6], max_ap_loss=0.05)
    assert loose["share_rescored"] <= measured["share_rescored"]


def test_no_qualifying_band_rescores_everything() -> None:
    y, first, second = _scores(seed=1)
    first = np.random.default_rng(5).random(len(y))  # a first stage that knows nothing
    low, high, measured = choose_band(y, first, second, [0.5], max_ap_loss=0.0)
    assert (low, high, measured["share_rescored"]) == (0.0, 1.0, 1.0)
    assert measured["ap_cascade"] == pytest.approx(measured["ap_second"])


class Fixed:
    """A predictor whose score is looked up per text; records what it was asked."""

    def __init__(self, table: dict[str, float]) -> None:
        self.table, self.asked = table, []  # type: ignore[var-annotated]

    def probabilities(self, texts: Sequence[str]) -> np.ndarray:
        self.asked.append(list(texts))
        return np.array([self.table[t] for t in texts], dtype=np.float32)

    def close(self) -> None:
        pass


def test_predictor_rescores_only_the_band() -> None:
    first = Fixed({"a": 0.01, "b": 0.2, "c": 0.5, "d": 0.95})
    second = Fixed({"b": 0.9, "c": 0.1})
    second.version, second.manifest = "v3", object()  # type: ignore[attr-defined]
    cascade = CascadePredictor(first, second, CascadePlan(first="v4", low=0.1, high=0.6))  # type: ignore[arg-type]
    try:
        assert cascade.probabilities(["a", "b", "c", "d"]).tolist() == pytest.approx(
            [0.01, 0.9, 0.1, 0.95]
        )
        assert second.asked == [["b", "c"]]
        assert (cascade.scored, cascade.rescored, cascade.version) == (4, 2, "v3")
    finally:
        cascade.close()
