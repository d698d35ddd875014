"""Who saw and decided what (a capped stream), for the people the alerts are about and for
the teams accountable for them: ids only, never comment texts."""

from __future__ import annotations

from monitor.schemas import utcnow
from monitor.store.client import Store, as_text

__all__ = ["AuditLog"]


class AuditLog:
    def __init__(self, store: Store, *, maxlen: int = 1_000_000) -> None:
        self._store, self._redis, self.keys = store, store.redis, store.keys
        self._maxlen = maxlen

    async def record(self, who: str, action: str, **detail: str) -> None:
        """One entry: who, what, when, and ids (never comment texts)."""
        fields = {"at": utcnow().isoformat(), "who": who, "action": action, **detail}
        with self._store.errors(f"writing the audit log ({action})"):
            await self._redis.xadd(self.keys.audit, fields, maxlen=self._maxlen, approximate=True)

    async def recent(self, count: int = 100) -> list[dict[str, str]]:
        with self._store.errors("reading the audit log"):
            entries = await self._redis.xrevrange(self.keys.audit, count=count)
        return [{as_text(k): as_text(v) for k, v in fields.items()} for _, fields in entries]
