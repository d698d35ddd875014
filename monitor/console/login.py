"""Login and logout. The login form has its own CSRF token (in an anonymous session
cookie), a successful login gets a new session (new token: no fixation), and every
attempt is audited. Unknown names cost the same scrypt work as known ones."""

from __future__ import annotations

import asyncio

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from monitor.console.access import set_session_cookie
from monitor.console.forms import read_form
from monitor.console.passwords import check_password, fingerprint
from monitor.console.reviewers import valid_name
from monitor.console.sessions import COOKIE

__all__ = ["ROUTES"]


def _next(value: str | None) -> str:
    """Only a path on this site, never another origin (``//host`` or ``/\\host``)."""
    if value and value.startswith("/") and not value.startswith(("//", "/\\")):
        return value
    return "/queue"


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
    account = console.reviewers.get(name) if valid_name(name) else None
    ok = await asyncio.to_thread(
        check_password, form.get("password", ""), account.password if account else None
    )
    if not ok or account is None:
        await console.audit.record(name if valid_name(name) else "?", "login_failed")
        request.state.session = None  # a new form token for the next try
        return _form(request, error="Wrong name or password.", status=401, next_=form.get("next"))
    session = console.codec.new(name, account.team, fingerprint(account.password))
    await console.audit.record(name, "login", team=account.team)
    response = RedirectResponse(_next(form.get("next")), status_code=303)
    set_session_cookie(response, console.codec, session, console.settings.console.secure_cookies)
    return response


async def logout(request: Request) -> Response:
    console = request.app.state.console
    await read_form(request)
    await console.audit.record(request.state.session.user, "logout")
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response


ROUTES = [
    Route("/login", login_form, methods=["GET"]),
    Route("/login", login, methods=["POST"]),
    Route("/logout", logout, methods=["POST"]),
]
