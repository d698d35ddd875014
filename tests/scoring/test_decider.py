"""Decider: per-policy thresholds from the manifest, truncation, pseudonyms and payload rules."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime

import pytest
from pydantic import SecretStr

from monitor.errors import ConfigError
from monitor.model.manifest import Manifest, PRPoint
from monitor.schemas import Comment, alert_id
from monitor.scoring.decider import Decider, flip
from monitor.settings import AlertSettings
from monitor.settings.sections import AlertPolicy

pytestmark = pytest.mark.unit  # the fast layer: no broker, Redis, Paddle or network

CURVE = [  # threshold, precision, recall
    (0.3, 0.50, 0.90),
    (0.5, 0.62, 0.80),
    (0.6, 0.70, 0.70),
    (0.8, 0.85, 0.40),
    (0.9, 0.95, 0.20),
]
POLICIES = {
    "care": AlertPolicy(min_precision=0.6),  # → 0.5, the most recall at precision ≥ 0.6
    "ads": AlertPolicy(min_precision=0.8),  # → 0.8
    "fixed": AlertPolicy(threshold=0.42),
}


def manifest(version: str = "v3", threshold: float = 0.55) -> Manifest:
    return Manifest(
        version=version,
        created_at=datetime(2026, 11, 1, tzinfo=UTC),
        base_model="test",
        max_seq_len=64,
        threshold=threshold,
        data_hash="x",
        validation_pr=[PRPoint(threshold=t, precision=p, recall=r) for t, p, r in CURVE],
    )


def comment(text: str = "分手第三天，还是会下意识给他发消息", user: str | None = "u42") -> Comment:
    return Comment(
        comment_id="c7",
        post_id="p1",
        user_id=user,
        user_name="小明",
        text_raw=text,
        created_at=datetime(2026, 11, 22, 10, tzinfo=UTC),
    )


def decider(max_text_chars: int = 2000, **alerts: object) -> Decider:
    settings = AlertSettings(policies=POLICIES, **alerts)  # type: ignore[arg-type]
    return Decider(settings, max_text_chars=max_text_chars)


def test_thresholds_per_policy_come_from_the_validation_curve() -> None:
    d = decider()
    assert d.thresholds(manifest()).by_policy == {
        "default": 0.55,
        "care": 0.5,
        "ads": 0.8,
        "fixed": 0.42,
    }
    assert d.thresholds(manifest(), "ads").by_policy == {"ads": 0.8}
    assert d.thresholds(manifest(), "default").by_policy == {"default": 0.55}


def test_an_unknown_policy_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"unknown policy 'press'; known: ads, care, default"):
        decider().thresholds(manifest(), "press")


def test_the_alert_names_every_policy_reached_and_the_lowest_threshold() -> None:
    d = decider()
    decision = d.decide(comment(), 0.7, manifest())
    assert decision.alert is not None
    assert decision.alert.policies == ["care", "default", "fixed"]
    assert decision.alert.threshold == 0.42
    assert decision.score.score == 0.7 and decision.score.model_version == "v3"
    only_ads = d.decide(comment(), 0.7, manifest(), policy="ads")
    assert only_ads.alert is None  # replay by one policy decides by that policy alone
    assert d.decide(comment(), 0.85, manifest(), policy="ads").alert.policies == ["ads"]  # type: ignore[union-attr]


def test_no_alert_below_every_threshold_but_still_a_score() -> None:
    decision = decider().decide(comment(), 0.41, manifest())
    assert decision.alert is None
    assert (decision.score.comment_id, decision.score.score) == ("c7", 0.41)
    assert decider().decide(comment(), 0.42, manifest()).alert is not None  # ≥, not >


def test_text_is_cut_at_max_text_chars() -> None:
    d = decider(max_text_chars=5)
    long = comment("一二三四五六七")
    cut = d.prepare(long)
    assert cut.text == "一二三四五" and cut.text_raw == "一二三四五六七"
    assert cut.comment_id == long.comment_id
    exact = comment("一二三四五")
    assert d.prepare(exact) is exact


def test_alert_id_is_stable_per_comment_and_model_version() -> None:
    d = decider()
    first = d.decide(comment(), 0.9, manifest("v3")).alert
    again = d.decide(comment(), 0.95, manifest("v3")).alert
    other = decider().decide(comment(), 0.9, manifest("v4")).alert
    assert first is not None and again is not None and other is not None
    assert first.alert_id == again.alert_id == alert_id("c7", "v3")
    assert other.alert_id == alert_id("c7", "v4") != first.alert_id


def test_privacy_mode_needs_a_key() -> None:
    with pytest.raises(ConfigError, match="pseudonym_key"):
        decider(privacy_mode=True)


def test_privacy_mode_pseudonyms_are_stable_keyed_and_hide_the_name() -> None:
    d = decider(privacy_mode=True, pseudonym_key=SecretStr("k1"))
    expected = "u_" + hmac.new(b"k1", b"u42", hashlib.sha256).hexdigest()[:32]
    assert d.user_ref("u42") == d.user_ref("u42") == expected
    assert d.user_ref("u43") != expected
    assert d.user_ref(None) is None
    other_key = decider(privacy_mode=True, pseudonym_key=SecretStr("k2"))
    assert other_key.user_ref("u42") != expected

    decision = d.decide(comment(), 0.9, manifest())
    assert decision.alert is not None
    assert decision.score.user_id == decision.alert.user_id == expected
    assert decision.alert.user_name is None
    assert decision.alert.text == comment().text  # privacy hides who, not what


def test_without_privacy_mode_the_user_is_shown_as_is() -> None:
    alert = decider().decide(comment(), 0.9, manifest()).alert
    assert alert is not None
    assert (alert.user_id, alert.user_name, alert.text) == ("u42", "小明", comment().text)


def test_minimal_payload_leaves_out_text_and_name() -> None:
    alert = decider(minimal_payload=True).decide(comment(), 0.9, manifest()).alert
    assert alert is not None
    assert (alert.user_id, alert.user_name, alert.text) == ("u42", None, None)
    assert alert.comment_id == "c7" and alert.post_id == "p1"


def test_flip_names_how_a_candidate_changes_a_reviewed_decision() -> None:
    assert flip(True, False, True) == "caught" and flip(False, True, True) == "missed"
    assert flip(True, False, False) == "raised" and flip(False, True, False) == "cleared"
    assert flip(True, True, True) is None and flip(False, False, False) is None
