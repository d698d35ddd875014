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

    def replay(self) -> Keys:
        """Replay writes under its own prefix, never into the live stream."""
        return Keys(f"{self.prefix}replay:")
