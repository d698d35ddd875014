"""policy_threshold / threshold_for_precision: ties, unreachable targets and empty curves."""

from __future__ import annotations

import pytest
from structlog.testing import capture_logs

from monitor.model.manifest import PRPoint
from monitor.model.thresholds import Thresholds, policy_threshold, threshold_for_precision
from monitor.settings import AlertSettings
from monitor.settings.sections import AlertPolicy
from tests.fixtures import make_manifest

pytestmark = pytest.mark.unit  # the fast layer: no broker, Redis, Paddle or network


def curve(*points: tuple[float, float, float]) -> list[PRPoint]:
    return [PRPoint(threshold=t, precision=p, recall=r) for t, p, r in points]


def test_the_most_recall_among_thresholds_reaching_the_precision() -> None:
    points = curve((0.2, 0.55, 0.95), (0.4, 0.7, 0.8), (0.6, 0.9, 0.5))
    assert threshold_for_precision(points, 0.6) == 0.4
    assert threshold_for_precision(points, 0.7) == 0.4  # exactly reaching counts
    assert threshold_for_precision(points, 0.71) == 0.6
    assert threshold_for_precision(points, 0.5) == 0.2


def test_a_recall_tie_takes_the_higher_threshold_in_any_order() -> None:
    points = curve((0.4, 0.7, 0.6), (0.5, 0.75, 0.6), (0.45, 0.72, 0.6))
    assert threshold_for_precision(points, 0.7) == 0.5
    assert threshold_for_precision(list(reversed(points)), 0.7) == 0.5


def test_precision_need_not_grow_with_the_threshold() -> None:
    # a dip: 0.7 misses the target although the lower 0.5 reaches it
    points = curve((0.5, 0.81, 0.6), (0.7, 0.79, 0.5), (0.9, 0.9, 0.1))
    assert threshold_for_precision(points, 0.8) == 0.5


def test_an_unreachable_target_takes_the_strictest_threshold() -> None:
    points = curve((0.3, 0.5, 0.9), (0.9, 0.7, 0.1), (0.6, 0.6, 0.5))
    assert threshold_for_precision(points, 0.95) is None
    assert policy_threshold(points, 0.95, default=0.5) == (0.9, False)
    assert policy_threshold(points, 0.6, default=0.5) == (0.6, True)


def test_an_empty_curve_falls_back_to_the_default() -> None:
    assert threshold_for_precision([], 0.5) is None
    assert policy_threshold([], 0.5, default=0.55) == (0.55, False)


def test_from_manifest_warns_about_an_unreachable_policy() -> None:
    manifest = make_manifest("v2", validation_pr=curve((0.3, 0.6, 0.9), (0.7, 0.8, 0.4)))
    alerts = AlertSettings(
        policies={"care": AlertPolicy(min_precision=0.6), "press": AlertPolicy(min_precision=0.99)}
    )
    with capture_logs() as logs:
        thresholds = Thresholds.from_manifest(manifest, alerts)
    assert thresholds.by_policy == {"default": 0.5, "care": 0.3, "press": 0.7}
    assert [(e["event"], e["policy"], e["threshold"]) for e in logs] == [
        ("policy_precision_unreachable", "press", 0.7)
    ]


def test_satisfied_and_lowest() -> None:
    t = Thresholds({"default": 0.5, "care": 0.3, "ads": 0.8})
    assert t.lowest == 0.3
    assert t.satisfied(0.29) == []
    assert t.satisfied(0.3) == ["care"]
    assert t.satisfied(0.5) == ["care", "default"]
    assert t.satisfied(1.0) == ["ads", "care", "default"]
