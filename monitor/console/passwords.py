"""Reviewer passwords: salted scrypt from the standard library, in one self-describing string.

``scrypt$N$r$p$salt$hash`` (base64url) keeps the cost parameters beside the hash, so they can
be raised later without invalidating stored hashes. Checking an unknown user still runs
scrypt against a dummy hash, so response times do not reveal which names exist.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

__all__ = ["check_password", "fingerprint", "hash_password"]

N, R, P = 2**14, 8, 1  # about 16 MB and 30-60 ms per check on this project's machines
_DUMMY = "scrypt$16384$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode()


def _derive(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        password.encode(), salt=salt, n=n, r=r, p=p, maxmem=256 * 1024 * 1024, dklen=32
    )


def hash_password(password: str, *, n: int = N, r: int = R, p: int = P) -> str:
    if not password:
        raise ValueError("the password is empty")
    salt = secrets.token_bytes(16)
    return f"scrypt${n}${r}${p}${_b64(salt)}${_b64(_derive(password, salt, n, r, p))}"


def check_password(password: str, encoded: str | None) -> bool:
    """Constant-time comparison; False for a malformed hash or an unknown user (None)."""
    try:
        kind, n, r, p, salt, digest = (encoded or _DUMMY).split("$")
        if kind != "scrypt":
            return False
        derived = _derive(password, base64.urlsafe_b64decode(salt), int(n), int(r), int(p))
        return hmac.compare_digest(derived, base64.urlsafe_b64decode(digest)) and bool(encoded)
    except ValueError:
        return False


def fingerprint(encoded: str) -> str:
    """A short digest of the stored hash: sessions carry it, so a password change ends them."""
    return hashlib.sha256(encoded.encode()).hexdigest()[:12]
