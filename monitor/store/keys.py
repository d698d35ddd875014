"""Every Redis key and channel the monitor uses, under one configurable prefix.

Downstream consumers of alerts use the same names, so they live in one place.
"""

from __future__ import annotations

__all__ = ["Keys"]


class Keys:
    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.stream = f"{prefix}alerts"
        self.channel = f"{prefix}alerts:live"
        self.models = f"{prefix}models"
        # the console: verdicts, the review lane of sampled non-alerts, escalations, audit
        self.verdicts = f"{prefix}verdicts"
        self.verdict_counts = f"{prefix}verdicts:counts"
        self.review_lane = f"{prefix}review:sample"
        self.urgent = f"{prefix}urgent"
        self.audit = f"{prefix}audit"
        self.score_versions = f"{prefix}scores:versions"
        self.index_cursor = f"{prefix}console:index:cursor"

    def dedupe(self, alert_id: str) -> str:
        return f"{self.prefix}alert:{alert_id}"

    def user(self, user_id: str) -> str:
        return f"{self.prefix}user:{user_id}"

    def cooldown(self, user_id: str) -> str:
        return f"{self.prefix}cooldown:{user_id}"

    def seen(self, post_id: str) -> str:
        return f"{self.prefix}seen:{post_id}"

    def cursor(self, target: str) -> str:
        return f"{self.prefix}cursor:{target}"

    def sample(self, sample_id: str) -> str:
        """Dedupe key of a review-lane entry (like ``dedupe`` for alerts)."""
        return f"{self.prefix}sample:{sample_id}"

    def decided(self, team: str, item_id: str) -> str:
        """Set once a team gave a verdict on an alert or sample id."""
        return f"{self.prefix}decided:{team}:{item_id}"

    def claim(self, team: str, item_id: str) -> str:
        """A reviewer's lease on an alert or sample id within a team (``claims.ReviewClaims``)."""
        return f"{self.prefix}claim:{team}:{item_id}"

    def undo(self, team: str, item_id: str) -> str:
        """What undoing a team's fresh verdict takes back, until the undo window closes."""
        return f"{self.prefix}undo:{team}:{item_id}"

    def returned(self, team: str, lane: str) -> str:
        """Entries whose verdict was undone: back in the team's queue (a sorted set)."""
        return f"{self.prefix}returned:{team}:{lane}"

    def user_alerts(self, user_id: str) -> str:
        """The console's index of a user's alert entries (stream ids by time)."""
        return f"{self.prefix}console:user:{user_id}"

    def hourly(self, day: str) -> str:
        """Alerts per hour and policy on one UTC day (``YYYYMMDD``)."""
        return f"{self.prefix}console:hourly:{day}"

    def score_histogram(self, version: str, hour: str) -> str:
        """Live scores of one model version in one UTC hour (``YYYYMMDDHH``), by logit bin."""
        return f"{self.prefix}scores:hist:{version}:{hour}"

    def comment_owner(self, comment_id: str) -> str:
        """The input record (``topic/partition/offset``) that owns a comment's decision: the
        scorer's dedupe of a comment published twice (``DecidedComments``)."""
        return f"{self.prefix}comment:{comment_id}"

    def replay(self) -> Keys:
        """Replay writes under its own prefix, never into the live stream."""
        return Keys(f"{self.prefix}replay:")
