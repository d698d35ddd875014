"""From (comment, probability, model) to what the sinks receive: a Score, and an Alert or none.

Live scoring and replay both decide here, so an alert means the same thing in both: the
same text truncation before scoring, the same per-policy thresholds from the model's
manifest, the same pseudonyms in privacy mode and the same payload rules.

A non-alerting comment may also be *sampled* for the console's review lane (reviewers
judge it, which estimates recall). The choice hashes the comment id, so a redelivered
batch samples the same comments and the lane's dedupe holds.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass

from monitor.errors import ConfigError
from monitor.model import Manifest, Thresholds
from monitor.schemas import Alert, Comment, Sampled, Score, alert_id, utcnow
from monitor.settings import AlertSettings

__all__ = ["Decider", "Decision", "flip", "sampled"]


@dataclass(frozen=True, slots=True)
class Decision:
    score: Score
    alert: Alert | None
    sample: Sampled | None = None


def sampled(comment_id: str, rate: float) -> bool:
    """Whether a comment falls in the review sample: a fixed share of comment ids."""
    if rate <= 0:
        return False
    digest = hashlib.sha256(comment_id.encode()).digest()
    return int.from_bytes(digest[:8], "big") < rate * 2**64


def flip(new: bool, old: bool, lovelorn: bool) -> str | None:
    """How a candidate's decision (``new``) changes a reviewed one: ``caught``/``missed`` a
    lovelorn verdict, ``raised``/``cleared`` an alert on a not-lovelorn one; None if unchanged."""
    if new == old:
        return None
    if lovelorn:
        return "caught" if new else "missed"
    return "raised" if new else "cleared"


class Decider:
    def __init__(
        self, alerts: AlertSettings, *, max_text_chars: int, review_sample_rate: float = 0.0
    ) -> None:
        if alerts.privacy_mode and alerts.pseudonym_key is None:
            raise ConfigError(
                "alerts.privacy_mode needs alerts.pseudonym_key (LOVELORN_ALERTS__PSEUDONYM_KEY)"
            )
        self._settings = alerts
        self._key = (
            alerts.pseudonym_key.get_secret_value().encode() if alerts.pseudonym_key else b""
        )
        self._max_chars = max_text_chars
        self._sample_rate = review_sample_rate
        self._thresholds: dict[tuple[str, str | None], Thresholds] = {}

    def prepare(self, comment: Comment) -> Comment:
        """The comment as the model sees it: text cut at ``scorer.max_text_chars``."""
        if len(comment.text) <= self._max_chars:
            return comment
        return comment.model_copy(update={"text": comment.text[: self._max_chars]})

    def thresholds(self, manifest: Manifest, policy: str | None = None) -> Thresholds:
        """Every policy's threshold for this model, or only ``policy``'s (replay decides by one)."""
        key = (manifest.version, policy)
        if key not in self._thresholds:
            every = Thresholds.from_manifest(manifest, self._settings)
            if policy is not None and policy not in every.by_policy:
                raise ConfigError(
                    f"unknown policy {policy!r}; known: {', '.join(sorted(every.by_policy))}"
                )
            self._thresholds[key] = (
                every if policy is None else Thresholds({policy: every.by_policy[policy]})
            )
        return self._thresholds[key]

    def user_ref(self, user_id: str | None) -> str | None:
        """The user id as alerts show it: a keyed hash in privacy mode, so consumers can count
        alerts per person without learning who it is."""
        if user_id is None or not self._settings.privacy_mode:
            return user_id
        return "u_" + hmac.new(self._key, user_id.encode(), hashlib.sha256).hexdigest()[:32]

    def decide(
        self, comment: Comment, probability: float, manifest: Manifest, policy: str | None = None
    ) -> Decision:
        thresholds = self.thresholds(manifest, policy)
        score = Score(
            comment_id=comment.comment_id,
            post_id=comment.post_id,
            user_id=self.user_ref(comment.user_id),
            score=probability,
            model_version=manifest.version,
            fetched_at=comment.fetched_at,
        )
        policies = thresholds.satisfied(probability)
        minimal = self._settings.minimal_payload
        if not policies:
            if not sampled(comment.comment_id, self._sample_rate):
                return Decision(score, None)
            sample = Sampled(
                sample_id=alert_id(comment.comment_id, manifest.version),
                comment_id=comment.comment_id,
                post_id=comment.post_id,
                reply_to=comment.reply_to,
                user_id=score.user_id,
                text=None if minimal else comment.text,
                score=probability,
                threshold=thresholds.lowest,
                model_version=manifest.version,
                created_at=comment.created_at,
                fetched_at=comment.fetched_at,
            )
            return Decision(score, None, sample)
        alert = Alert(
            alert_id=alert_id(comment.comment_id, manifest.version),
            comment_id=comment.comment_id,
            post_id=comment.post_id,
            user_id=score.user_id,
            user_name=None if minimal or self._settings.privacy_mode else comment.user_name,
            text=None if minimal else comment.text,
            score=probability,
            threshold=thresholds.lowest,
            policies=policies,
            model_version=manifest.version,
            created_at=comment.created_at,
            fetched_at=comment.fetched_at,
            emitted_at=utcnow(),
        )
        return Decision(score, alert)

    def decide_all(
        self,
        comments: Sequence[Comment],
        probabilities: Sequence[float],
        manifest: Manifest,
        policy: str | None = None,
    ) -> list[Decision]:
        return [
            self.decide(c, float(p), manifest, policy)
            for c, p in zip(comments, probabilities, strict=True)
        ]
