"""The quality page's arithmetic, pure and unit-tested: Wilson intervals and drift (PSI).

Drift compares live scores with the model's validation scores. The registry keeps no
validation scores, but each manifest has the validation precision-recall curve and the
validation confusion matrix, which give the share of validation texts scoring at or above
every curve threshold: recall·positives / precision / n. Live scores arrive as histograms
on a logit grid (``monitor.store.score_bin``). PSI is measured over bins cut at the
validation deciles, snapped to that grid, so both sides count exactly the same scores.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from monitor.model import Manifest
from monitor.store.verdicts import BIN_WIDTH

__all__ = ["Drift", "drift", "psi", "reference_shares", "wilson"]


def wilson(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """The Wilson score interval of a proportion (95% by default); (0, 1) when n is 0."""
    if n <= 0:
        return 0.0, 1.0
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def psi(expected: Sequence[float], actual: Sequence[float], floor: float = 1e-4) -> float:
    """Population stability index of two distributions over the same bins (shares).

    Empty bins are floored so one missing bin does not make it infinite. Rule of thumb:
    below 0.1 stable, 0.1-0.25 a moderate shift, above 0.25 a major one.
    """
    if len(expected) != len(actual) or not expected:
        raise ValueError("psi needs two distributions over the same, non-empty bins")
    e = [max(x, floor) for x in expected]
    a = [max(x, floor) for x in actual]
    e_total, a_total = sum(e), sum(a)
    return sum(
        (ai / a_total - ei / e_total) * math.log((ai / a_total) / (ei / e_total))
        for ei, ai in zip(e, a, strict=True)
    )


def _logit(p: float) -> float:
    p = min(max(p, 1e-9), 1 - 1e-9)
    return math.log(p / (1 - p))


def reference_shares(manifest: Manifest) -> list[tuple[float, float]] | None:
    """(logit threshold, share of validation texts scoring at or above it), by threshold;
    None when the manifest lacks the curve or the validation confusion matrix."""
    validation = manifest.metrics.get("validation") or {}
    matrix = validation.get("confusion_matrix")
    try:
        n = sum(sum(row) for row in matrix)
        positives = matrix[1][0] + matrix[1][1]
    except (TypeError, IndexError):
        return None
    points = sorted(
        (_logit(p.threshold), min(1.0, p.recall * positives / p.precision / n))
        for p in manifest.validation_pr
        if p.precision > 0 and n > 0
    )
    if len(points) < 2:
        return None
    shares, top = [], 0.0
    for logit, share in reversed(points):  # the share above can only grow as thresholds fall
        top = max(top, share)
        shares.append((logit, top))
    return shares[::-1]


def _share_at(points: Sequence[tuple[float, float]], logit: float) -> float:
    for (x0, y0), (x1, y1) in itertools.pairwise(points):
        if x0 <= logit <= x1:
            return y0 + (y1 - y0) * (logit - x0) / (x1 - x0) if x1 > x0 else y0
    raise ValueError("outside the curve")


@dataclass(frozen=True)
class Drift:
    labels: list[str]  # score ranges
    expected: list[float]  # validation shares
    actual: list[float]  # live shares
    live_total: int
    psi: float


def drift(manifest: Manifest, live: Mapping[int, int], quantiles: int = 10) -> Drift | None:
    """Live score histogram (bin → count) against the model's validation scores; None when
    either side is missing."""
    points = reference_shares(manifest)
    total = sum(live.values())
    if points is None or total == 0:
        return None
    lo, hi = points[0][0], points[-1][0]
    edges: set[int] = set()  # grid boundaries: boundary b lies between bins b-1 and b
    for q in range(1, quantiles):
        share = 1 - q / quantiles  # the q-th decile leaves this share above it
        for (x0, y0), (x1, y1) in itertools.pairwise(points):
            if y1 <= share <= y0 and y0 > y1:
                logit = x0 + (x1 - x0) * (y0 - share) / (y0 - y1)
                b = round(logit / BIN_WIDTH + 0.5)
                if lo <= (b - 0.5) * BIN_WIDTH <= hi:
                    edges.add(b)
                break
    if len(edges) < 2:
        return None
    bounds = sorted(edges)
    above_ref = [_share_at(points, (b - 0.5) * BIN_WIDTH) for b in bounds]
    above_live = [sum(n for k, n in live.items() if k >= b) / total for b in bounds]
    expected = _bins(above_ref)
    actual = _bins(above_live)
    labels = [f"< {_score(bounds[0])}"]
    labels += [f"{_score(a)}-{_score(b)}" for a, b in itertools.pairwise(bounds)]
    labels.append(f"≥ {_score(bounds[-1])}")
    return Drift(labels, expected, actual, total, psi(expected, actual))


def _bins(above: Sequence[float]) -> list[float]:
    """Shares at or above increasing edges → the shares of the bins between them."""
    cuts = [1.0, *above, 0.0]
    return [max(0.0, a - b) for a, b in itertools.pairwise(cuts)]


def _score(boundary: int) -> str:
    value = 1 / (1 + math.exp(-(boundary - 0.5) * BIN_WIDTH))
    return f"{value:.3g}"
