"""Signed session cookies and the CSRF token they carry.

A cookie is ``v1.<base64url JSON>.<base64url HMAC-SHA256>`` under a key derived from
``console.secret_key``. A session holds the reviewer, their team, its CSRF token, an
absolute expiry, the fingerprint of the reviewer's password hash (a changed password ends
old sessions) and a session id. A signature cannot be taken back, so a logged-in session is
also recorded server-side under its id (``monitor.store.SessionRecords``, in Redis: any
console process can serve any request): logout deletes the record and idleness expires it.
Before login an anonymous session (empty user, no id) carries the login form's CSRF token.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import asdict, dataclass

__all__ = ["COOKIE", "Session", "SessionCodec", "csrf_matches", "new_token"]

COOKIE = "lovelorn_session"


def new_token() -> str:
    return secrets.token_urlsafe(24)


def csrf_matches(session: Session | None, token: str | None) -> bool:
    return bool(session and token) and hmac.compare_digest(session.csrf, token or "")  # type: ignore[union-attr]


@dataclass(frozen=True)
class Session:
    user: str  # "" before login
    team: str
    csrf: str
    expires: float
    fp: str = ""
    sid: str = ""  # the server-side record's id; "" for an anonymous session

    @property
    def logged_in(self) -> bool:
        return bool(self.user)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class SessionCodec:
    def __init__(self, secret: str, max_age_s: float) -> None:
        self._key = hashlib.sha256(b"lovelorn-console-session\x00" + secret.encode()).digest()
        self.max_age_s = max_age_s

    def new(
        self, user: str = "", team: str = "", fp: str = "", *, ttl_s: float | None = None
    ) -> Session:
        expires = time.time() + (ttl_s or self.max_age_s)
        return Session(user, team, new_token(), expires, fp, new_token() if user else "")

    def dumps(self, session: Session) -> str:
        body = "v1." + _b64(json.dumps(asdict(session), separators=(",", ":")).encode())
        return f"{body}.{_b64(self._mac(body))}"

    def loads(self, cookie: str | None) -> Session | None:
        """The session, or None when absent, tampered with, malformed or expired."""
        if not cookie or cookie.count(".") != 2:
            return None
        body, _, mac = cookie.rpartition(".")
        try:
            if not hmac.compare_digest(_unb64(mac), self._mac(body)):
                return None
            session = Session(**json.loads(_unb64(body.removeprefix("v1."))))
        except (ValueError, TypeError):
            return None
        return session if session.expires > time.time() else None

    def _mac(self, body: str) -> bytes:
        return hmac.new(self._key, body.encode(), hashlib.sha256).digest()
