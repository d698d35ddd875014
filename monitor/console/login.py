"""Login and logout. The login form has its own CSRF token (in an anonymous session
cookie), a successful login gets a new session (new token: no fixation) recorded
server-side, and every attempt is audited. Unknown names cost the same scrypt work as
known ones, and are throttled the same way. An account whose team is not configured
(``reviewers.known_teams``) is refused, and told why, once its password is right.

Throttling (``console.login``): each attempt is counted against the account name and the
client's address before the password is checked (``monitor.store.LoginThrottle``); after
a few failures either one must wait, longer after each further failure, and until then
even the right password gets 429, so guessing stays slow however fast it is asked.
Logout deletes the session's server-side record: a copy of the cookie is worthless after.
"""

from __future__ import annotations

import asyncio
import ipaddress
import math

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from monitor.console.access import set_session_cookie
from monitor.console.forms import read_form
from monitor.console.passwords import check_password, fingerprint
from monitor.console.reviewers import valid_name
from monitor.console.sessions import COOKIE

__all__ = ["ROUTES", "client_address"]


def _next(value: str | None) -> str:
    """Only a path on this site, never another origin (``//host`` or ``/\\host``)."""
    if value and value.startswith("/") and not value.startswith(("//", "/\\")):
        return value
    return "/queue"


def client_address(request: Request) -> str:
    """The client as the throttle counts it. An IPv6 client counts by its /64: one host
    usually holds a whole /64, and would otherwise have 2**64 addresses to rotate through."""
    host = request.client.host if request.client else ""
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return host or "unknown"
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network(f"{ip}/64", strict=False))
    return str(ip)


async def login_form(request: Request) -> Response:
    console = request.app.state.console
    if console.settings.console.auth == "header":
        return RedirectResponse("/queue", status_code=303)
    return _form(request, error=None, status=200, next_=request.query_params.get("next"))


def _form(request: Request, *, error: str | None, status: int, next_: str | None) -> Response:
    console = request.app.state.console
    session = request.state.session
    fresh = session is None or session.logged_in
    if fresh:  # the form's token lives in an anonymous session until login
        session = request.state.session = console.codec.new(ttl_s=3600)
    response = console.page(request, "login.html", status, next=_next(next_), error=error)
    if fresh:
        set_session_cookie(
            response, console.codec, session, console.settings.console.secure_cookies
        )
    return response


async def login(request: Request) -> Response:
    console = request.app.state.console
    form = await read_form(request)
    name = form.get("name", "").strip()
    who = name if valid_name(name) else "?"
    address = client_address(request)
    request.state.session = None  # every answer but success shows a form with a new token
    wait_s = await console.throttle.attempt(who, address)
    if wait_s > 0:
        seconds = math.ceil(wait_s)
        await console.audit.record(who, "login_throttled", address=address)
        response = _form(
            request,
            error=f"Too many failed logins: try again in {seconds} s.",
            status=429,
            next_=form.get("next"),
        )
        response.headers["Retry-After"] = str(seconds)
        return response
    account = console.reviewers.get(name) if who != "?" else None
    ok = await asyncio.to_thread(
        check_password, form.get("password", ""), account.password if account else None
    )
    if not ok or account is None:
        await console.audit.record(who, "login_failed", address=address)
        return _form(request, error="Wrong name or password.", status=401, next_=form.get("next"))
    await console.throttle.succeeded(who, address)
    if account.team not in console.teams:  # the right password: saying why reveals nothing
        await console.audit.record(name, "login_refused_unknown_team", team=account.team)
        known = ", ".join(sorted(console.teams))
        error = (
            f"Your account's team {account.team!r} is not one of this console's teams "
            f"({known}): ask an administrator to move you to one of them."
        )
        return _form(request, error=error, status=403, next_=form.get("next"))
    session = console.codec.new(name, account.team, fingerprint(account.password))
    await console.records.open(session.sid, name, expires=session.expires)
    await console.audit.record(name, "login", team=account.team)
    response = RedirectResponse(_next(form.get("next")), status_code=303)
    set_session_cookie(response, console.codec, session, console.settings.console.secure_cookies)
    return response


async def logout(request: Request) -> Response:
    console = request.app.state.console
    await read_form(request)
    session = request.state.session
    await console.records.revoke(session.sid)  # the cookie, wherever copied, is void now
    await console.audit.record(session.user, "logout")
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response


ROUTES = [
    Route("/login", login_form, methods=["GET"]),
    Route("/login", login, methods=["POST"]),
    Route("/logout", logout, methods=["POST"]),
]
