"""Credentials inside URLs, masked before a URL is shown to a person.

Any URL-valued setting may carry credentials in its userinfo: a Redis URL with a password,
a webhook behind basic auth (``https://user:pw@host/hook``), a token written as the user
name (``https://TOKEN@host``). ``config show`` and error messages show URLs, so every one
goes through ``mask_url``; ``mask_urls`` applies it to every string of a dumped settings
tree, so a URL-valued setting added later is masked without anyone listing it.
"""

from __future__ import annotations

from typing import Any

__all__ = ["MASK", "mask_url", "mask_urls"]

MASK = "**********"  # what pydantic dumps for a SecretStr


def mask_url(url: str | None) -> str | None:
    """``scheme://user:pw@host…`` → ``scheme://user:**********@host…``; a lone user name
    (often a token) is masked whole. Anything without userinfo comes back unchanged.

    The authority is read as RFC 3986 reads it (up to the first ``/``, ``?`` or ``#``),
    by hand rather than with ``urlsplit``, which raises on a malformed port or IPv6 host:
    masking must never fail, nor rewrite the host it shows.
    """
    if not url or "://" not in url:
        return url
    scheme, _, rest = url.partition("://")
    end = min((i for i in (rest.find(c) for c in "/?#") if i >= 0), default=len(rest))
    userinfo, at, host = rest[:end].rpartition("@")
    if not at:
        return url
    user, colon, _ = userinfo.partition(":")
    return f"{scheme}://{f'{user}:{MASK}' if colon else MASK}@{host}{rest[end:]}"


def mask_urls(data: Any) -> Any:
    """``data`` (dicts, lists and scalars, as ``model_dump(mode="json")`` gives) with every
    string that is a URL passed through ``mask_url``."""
    if isinstance(data, dict):
        return {key: mask_urls(value) for key, value in data.items()}
    if isinstance(data, list):
        return [mask_urls(value) for value in data]
    if isinstance(data, str):
        return mask_url(data)
    return data
