"""Console test helpers: alerts as the scorer writes them, settings with three reviewers,
a console served in-process (ASGI, lifespan running), and reviewers that use it as a
browser would: follow the login redirect, read CSRF tokens from the forms, post forms."""

from __future__ import annotations

import contextlib
import html
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
from starlette.applications import Starlette

from monitor.console.app import create_app
from monitor.schemas import Alert, alert_id
from monitor.settings import ConsoleSettings, ConsoleUser, Settings
from tests.fixtures import LOVELORN

CSRF = re.compile(r'name="csrf" value="([^"]+)"')
ROWS = re.compile(r'data-href="([^"]+)"')
VERDICT_FORM = re.compile(r'action="(/review/[^"]+/verdict[^"]*)"')

CONSOLE_SECRET = "console-test-secret-0123456789"
CONSOLE_PASSWORD = "correct horse battery"
_HASHES: dict[str, str] = {}


def make_alert(
    i: int,
    policies: list[str] | None = None,
    *,
    score: float = 0.9,
    user: str | None = None,
    version: str = "v1",
    text: str | None = None,
) -> Alert:
    """An Alert as the scorer writes it (ids from ``alert_id``), with invented text."""
    now = datetime.now(UTC)
    return Alert(
        alert_id=alert_id(f"c{i}", version),
        comment_id=f"c{i}",
        post_id=f"p{i % 3}",
        user_id=user if user is not None else f"u{i % 5}",
        text=text if text is not None else LOVELORN[i % len(LOVELORN)],
        score=score,
        threshold=0.5,
        policies=policies if policies is not None else ["care", "default"],
        model_version=version,
        created_at=now,
        fetched_at=now,
    )


def console_settings(stack: Settings, home: Path, **console: object) -> Settings:
    """``stack`` with a console secret and three reviewers: alice and bob (team care), carol
    (team ads), all with CONSOLE_PASSWORD (hashed once per process: scrypt is slow)."""
    from monitor.console.passwords import hash_password

    if "console" not in _HASHES:
        _HASHES["console"] = hash_password(CONSOLE_PASSWORD)
    hashed = _HASHES["console"]
    users = {
        "alice": ConsoleUser(password=hashed, team="care"),
        "bob": ConsoleUser(password=hashed, team="care"),
        "carol": ConsoleUser(password=hashed, team="ads"),
    }
    section = ConsoleSettings(secret_key=CONSOLE_SECRET, users=users, **console)  # type: ignore[arg-type]
    return stack.model_copy(update={"home": home, "console": section})


@contextlib.asynccontextmanager
async def console(settings: Settings) -> AsyncIterator[Starlette]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        yield app


class Reviewer:
    """A browser; ``address`` is the client address the app sees (the login throttle's)."""

    def __init__(self, app: Starlette, *, address: str = "127.0.0.1", **headers: str) -> None:
        transport = httpx.ASGITransport(app=app, client=(address, 40000))
        self.http = httpx.AsyncClient(
            transport=transport, base_url="http://console.test", headers=headers
        )

    async def __aenter__(self) -> Reviewer:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.http.aclose()

    async def login(self, name: str, password: str = CONSOLE_PASSWORD) -> httpx.Response:
        form = await self.http.get("/login")
        token = csrf(form.text)
        return await self.http.post(
            "/login", data={"csrf": token, "name": name, "password": password, "next": "/queue"}
        )

    async def queue(self, query: str = "") -> tuple[httpx.Response, list[str]]:
        page = await self.http.get(f"/queue?{query}")
        return page, [html.unescape(h) for h in ROWS.findall(page.text)]

    async def post_verdict(
        self, href: str, verdict: str, *, token: str, as_json: bool = False
    ) -> httpx.Response:
        """A verdict posted straight to an entry, as a stale page or a script would."""
        path, _, query = href.partition("?")
        headers = {"Accept": "application/json"} if as_json else {}
        return await self.http.post(
            f"{path}/verdict?{query}", data={"csrf": token, "verdict": verdict}, headers=headers
        )

    async def decide(self, href: str, verdict: str, **fields: str) -> httpx.Response:
        page = await self.http.get(href)
        action = html.unescape(VERDICT_FORM.search(page.text).group(1))  # type: ignore[union-attr]
        return await self.http.post(
            action, data={"csrf": csrf(page.text), "verdict": verdict, **fields}
        )


def csrf(text: str) -> str:
    found = CSRF.search(text)
    assert found, "no CSRF token in the page"
    return found.group(1)
