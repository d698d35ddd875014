"""From a score to an alert: per-consumer thresholds, and what the alert may reveal.

Care services and ad services want different trade-offs, so each policy either names a
threshold or a precision target that the model's validation PR curve turns into one.
An alert is emitted when any policy (or the model's own threshold, "default") is reached,
and lists every policy it satisfies.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

import structlog

from monitor.errors import ConfigError
from monitor.registry import Manifest, policy_threshold
from monitor.schemas import Alert, Comment, alert_id, utcnow
from monitor.settings import AlertSettings

__all__ = ["AlertBuilder", "Thresholds"]

log = structlog.get_logger()


@dataclass(frozen=True)
class Thresholds:
    by_policy: dict[str, float]

    @classmethod
    def from_manifest(cls, manifest: Manifest, alerts: AlertSettings) -> Thresholds:
        out = {"default": manifest.threshold}
        for name, policy in alerts.policies.items():
            if policy.threshold is not None:
                out[name] = policy.threshold
            elif policy.min_precision is not None:
                found, reached = policy_threshold(
                    manifest.validation_pr, policy.min_precision, manifest.threshold
                )
                if not reached:
                    log.warning(
                        "policy_precision_unreachable",
                        policy=name,
                        min_precision=policy.min_precision,
                        model=manifest.version,
                        threshold=found,
                    )
                out[name] = found
        return cls(out)

    @property
    def lowest(self) -> float:
        return min(self.by_policy.values())

    def satisfied(self, score: float) -> list[str]:
        return sorted(name for name, threshold in self.by_policy.items() if score >= threshold)


class AlertBuilder:
    def __init__(self, alerts: AlertSettings) -> None:
        if alerts.privacy_mode and alerts.pseudonym_key is None:
            raise ConfigError(
                "alerts.privacy_mode needs alerts.pseudonym_key (LOVELORN_ALERTS__PSEUDONYM_KEY)"
            )
        self._settings = alerts
        self._key = (
            alerts.pseudonym_key.get_secret_value().encode() if alerts.pseudonym_key else b""
        )

    def user_ref(self, user_id: str | None) -> str | None:
        """The user id as alerts show it: a keyed hash in privacy mode, so consumers can count
        alerts per person without learning who it is."""
        if user_id is None or not self._settings.privacy_mode:
            return user_id
        return "u_" + hmac.new(self._key, user_id.encode(), hashlib.sha256).hexdigest()[:32]

    def build(
        self, comment: Comment, score: float, model_version: str, thresholds: Thresholds
    ) -> Alert | None:
        policies = thresholds.satisfied(score)
        if not policies:
            return None
        minimal = self._settings.minimal_payload
        return Alert(
            alert_id=alert_id(comment.comment_id, model_version),
            comment_id=comment.comment_id,
            post_id=comment.post_id,
            user_id=self.user_ref(comment.user_id),
            user_name=None if minimal or self._settings.privacy_mode else comment.user_name,
            text=None if minimal else comment.text,
            score=score,
            threshold=thresholds.lowest,
            policies=policies,
            model_version=model_version,
            created_at=comment.created_at,
            fetched_at=comment.fetched_at,
            emitted_at=utcnow(),
        )
