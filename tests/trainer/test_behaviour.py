"""The behaviour suite on the shipped model: what it must flag, leave alone, shrug off and
turn down. Cases within NOISE of their decision are reported, not asserted (another CPU's
kernels may move them); the model's known failures are xfails that fail once the model
passes them, so the list stays true."""

from __future__ import annotations

from typing import Any

import pytest

from trainer.evaluation.behaviour import CASES, MAX_SHIFT, Case, run_suite

NOISE = 0.02
# The bundled model (bge-small-zh-v1.5 fine-tuned, 2 epochs) gets these wrong by more than NOISE.
KNOWN_FAILURES = {
    "flag/plain: 被他甩了，心像被掏空了一样",
    "flag/slang: 被绿了，emo到凌晨三点",
    "flag/slang: 前任官宣了，我直接破防",
    "invariant/emoji: 我失恋了，好难受 | 我失恋了，好难受😭",
    "lower/negation: 我们分手了 | 我们没有分手",
}


@pytest.fixture(scope="module")
def outcomes() -> dict[str, Any]:
    from monitor import Detector

    with Detector.load() as detector:  # the bundled model
        threshold = detector.thresholds.by_policy["default"]
        results = run_suite(lambda texts: [d.score for d in detector(texts)], threshold)
    return {o.case.name: (o, threshold) for o in results}


def _margin(case: Case, score: float, other: float | None, threshold: float) -> float:
    """How far the case is from flipping (positive: passing)."""
    if case.test == "flag":
        return score - threshold
    if case.test == "pass":
        return threshold - score
    assert other is not None
    if case.test == "invariant":
        return MAX_SHIFT - abs(score - other)
    return score - other  # "lower": the negated text must score lower


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_the_shipped_model_behaves(case: Case, outcomes: dict[str, Any]) -> None:
    outcome, threshold = outcomes[case.name]
    margin = _margin(case, outcome.score, outcome.other_score, threshold)
    if abs(margin) < NOISE:
        pytest.skip(
            f"within {NOISE} of its decision ({margin:+.4f}): too close to call on every CPU"
        )
    if case.name in KNOWN_FAILURES:
        assert margin < 0, f"{case.name} now passes ({margin:+.3f}): drop it from KNOWN_FAILURES"
        pytest.xfail(f"known failure of the shipped model (margin {margin:+.3f})")
    assert margin > 0, f"{case.name}: {outcome.score:.3f} (margin {margin:+.3f})"


def test_every_known_failure_is_a_case() -> None:
    assert KNOWN_FAILURES <= {c.name for c in CASES}
