"""Reading a POSTed form: the only way handlers get one, and it always checks CSRF.

Forms are urlencoded (no file uploads anywhere), so the standard library parses them and
no multipart parser is needed. The token comes from the ``csrf`` field or the
``X-CSRF-Token`` header and must equal the session's; a request whose ``Origin`` names
another host is refused too (browsers send ``null`` under our no-referrer policy).
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

from starlette.exceptions import HTTPException
from starlette.requests import Request

from monitor.console.sessions import Session, csrf_matches

__all__ = ["read_form"]

LIMIT = 64 * 1024


async def read_form(request: Request) -> dict[str, str]:
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/x-www-form-urlencoded":
        raise HTTPException(415, "forms are sent as application/x-www-form-urlencoded")
    origin = request.headers.get("origin")  # "null" under Referrer-Policy: no-referrer
    hosts = {request.headers.get("host"), request.headers.get("x-forwarded-host")}
    if origin and origin != "null" and urlsplit(origin).netloc not in hosts:
        raise HTTPException(403, "cross-origin form refused")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > LIMIT:
            raise HTTPException(413, f"form larger than {LIMIT} bytes")
    try:
        fields = dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=50))
    except (UnicodeDecodeError, ValueError):
        raise HTTPException(400, "unreadable form") from None
    session: Session | None = request.state.session
    if not csrf_matches(session, fields.get("csrf") or request.headers.get("x-csrf-token")):
        raise HTTPException(403, "the form's security token is missing or stale: reload the page")
    return fields
