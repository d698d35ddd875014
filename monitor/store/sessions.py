"""Server-side records of the console's logged-in sessions.

The session cookie is signed, so it cannot be forged, but a signature alone cannot be
taken back: a copied cookie stayed good after its owner logged out, until it expired. Each
logged-in session therefore has a record here, ``<prefix>console:session:<sid>`` holding
the reviewer's name, that every request must find. Logging out deletes it; its TTL is the
idle timeout, renewed by each request (never past the cookie's own expiry), so a session
left alone ends by itself. Any console process can check any session: the records are in
Redis, like the rest of the console's state.
"""

from __future__ import annotations

import time

from monitor.store.client import Store

__all__ = ["SessionRecords"]


class SessionRecords:
    def __init__(self, store: Store, *, idle_s: float) -> None:
        self._store, self._redis = store, store.redis
        self._prefix = f"{store.keys.prefix}console:session:"
        self.idle_s = idle_s

    def _ttl_ms(self, expires: float) -> int:
        """Time left: the idle timeout, or less when the session's absolute end is nearer."""
        return max(1, int(min(self.idle_s, expires - time.time()) * 1000))

    async def open(self, sid: str, user: str, *, expires: float) -> None:
        """Record a new session (after a login) until idle or ``expires`` (epoch seconds)."""
        with self._store.errors("opening a console session"):
            await self._redis.set(self._prefix + sid, user, px=self._ttl_ms(expires))

    async def touch(self, sid: str, user: str, *, expires: float) -> bool:
        """Whether ``sid`` is a live session of ``user``; if so, its idle clock restarts.

        One round trip (GET and PEXPIRE in a transaction): PEXPIRE on a missing key does
        nothing, so a revoked or expired session stays gone.
        """
        if not sid:
            return False
        key = self._prefix + sid
        with self._store.errors("checking a console session"):
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.get(key)
                pipe.pexpire(key, self._ttl_ms(expires))
                owner, _ = await pipe.execute()
        return owner is not None and owner.decode() == user

    async def revoke(self, sid: str) -> bool:
        """End a session now (logout); False when it had already ended."""
        if not sid:
            return False
        with self._store.errors("ending a console session"):
            return bool(await self._redis.delete(self._prefix + sid))
