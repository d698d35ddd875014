"""The gate in front of every page and API: nothing but the login form without a reviewer.

Password mode (default): the reviewer comes from a valid signed session cookie whose user
still exists, in the same team (still a configured one), with the same password hash
(fingerprint), and whose server-side record is still there (not logged out, not idle too
long; each request restarts the idle clock). Header mode (``console.auth = "header"``, for
SSO): a reverse proxy that authenticates people sets ``console.trusted_header``; the
console believes it, so it must be reachable only through that proxy (bind to 127.0.0.1 or
a private interface); a user whose team is not configured gets 403. The session cookie
then only carries the CSRF token; idleness and logout are the proxy's business.

Refusals: API paths and non-GET requests get 401; pages redirect to the login form. Every
response carries headers that keep pages out of caches, frames and other origins' scripts.
When Redis (or anything else of ours) fails, the answer is a 503 that names no internal
address (``unavailable``): the details go to the log, where operators look, not to the
browser, where anyone can.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import quote

import structlog
from starlette.requests import HTTPConnection
from starlette.responses import PlainTextResponse, RedirectResponse, Response

from monitor.console.passwords import fingerprint
from monitor.console.reviewers import ReviewerDirectory, valid_name
from monitor.console.sessions import COOKIE, Session, SessionCodec
from monitor.errors import MonitorError, StoreError
from monitor.settings import ConsoleSettings
from monitor.store import SessionRecords

__all__ = ["RequireLogin", "set_session_cookie", "unavailable"]

log = structlog.get_logger()

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]

PUBLIC = frozenset({"/login"})  # and /static/: a stylesheet and a script, no data


def _public(path: str) -> bool:
    return path in PUBLIC or path.startswith("/static/")


HEADERS = [
    (b"content-security-policy", b"default-src 'self'; img-src 'self' data:; style-src 'self'; "
     b"script-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"cache-control", b"no-store"),
    (b"x-frame-options", b"DENY"),
]  # fmt: skip


def unavailable(path: str, exc: MonitorError) -> Response:
    """The 503 for a failed Redis call (or another of our errors): the cause is logged, the
    browser gets no address."""
    log.warning("console_error", path=path, error=str(exc), kind=type(exc).__name__)
    text = (
        "The console cannot reach its data store right now: try again in a minute.\n"
        if isinstance(exc, StoreError)
        else "The console could not answer this request (the error is logged): try again.\n"
    )
    response = PlainTextResponse(text, status_code=503, headers={"Retry-After": "30"})
    response.raw_headers.extend(HEADERS)
    return response


def set_session_cookie(
    response: Response, codec: SessionCodec, session: Session, secure: bool
) -> None:
    response.set_cookie(
        COOKIE,
        codec.dumps(session),
        max_age=max(1, int(session.expires - time.time())),
        httponly=True,
        samesite="lax",
        secure=secure,
        path="/",
    )


class RequireLogin:
    def __init__(
        self,
        app: App,
        *,
        codec: SessionCodec,
        reviewers: ReviewerDirectory,
        records: SessionRecords,
        console: ConsoleSettings,
        teams: frozenset[str],
    ) -> None:
        self._app, self._codec, self._reviewers, self._console = app, codec, reviewers, console
        self._records, self._teams = records, teams

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        connection = HTTPConnection(scope)
        session = self._codec.loads(connection.cookies.get(COOKIE))
        fresh: Session | None = None
        if self._console.auth == "header":
            user = connection.headers.get(self._console.trusted_header, "").strip()
            if not valid_name(user):
                await self._refuse(
                    scope, receive, send, "no authenticated user from the proxy", 401
                )
                return
            if session is None or session.user != user or session.team not in self._teams:
                account = self._reviewers.get(user)
                team = account.team if account else self._console.default_team
                if team not in self._teams:
                    why = f"team {team!r} is not a configured team: ask an administrator"
                    await self._refuse(scope, receive, send, why, 403)
                    return
                session = fresh = self._codec.new(user, team)
        elif not _public(scope["path"]):
            try:
                valid = await self._valid(session)
            except MonitorError as exc:
                await unavailable(scope["path"], exc)(scope, receive, send)
                return
            if not valid:
                await self._refuse(scope, receive, send, "login required", 401)
                return
        scope.setdefault("state", {})["session"] = session

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {k.lower() for k, _ in headers}
                headers += [(k, v) for k, v in HEADERS if k not in present]
                if fresh is not None:
                    cookie = Response()
                    set_session_cookie(cookie, self._codec, fresh, self._console.secure_cookies)
                    headers += [(k, v) for k, v in cookie.raw_headers if k == b"set-cookie"]
                message["headers"] = headers
            await send(message)

        await self._app(scope, receive, send_with_headers)

    async def _valid(self, session: Session | None) -> bool:
        if session is None or not session.logged_in:
            return False
        account = self._reviewers.get(session.user)
        if (
            account is None
            or account.team != session.team
            or account.team not in self._teams
            or fingerprint(account.password) != session.fp
        ):
            return False
        return await self._records.touch(session.sid, session.user, expires=session.expires)

    async def _refuse(
        self, scope: Scope, receive: Receive, send: Send, why: str, status: int
    ) -> None:
        path: str = scope["path"]
        response: Response
        if (
            scope["method"] == "GET"
            and not path.startswith("/api/")
            and status == 401
            and self._console.auth == "password"
        ):
            query = scope.get("query_string", b"").decode("latin-1")
            target = path + (f"?{query}" if query else "")
            response = RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)
        else:
            response = PlainTextResponse(f"{why}\n", status_code=status)
        response.raw_headers.extend(HEADERS)
        await response(scope, receive, send)
