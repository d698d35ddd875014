"""The console in Debian's Chromium, driven by Playwright: a reviewer logs in, reviews three
alerts with the keyboard only, and the verdicts reach `feedback export` and the quality
page; an unauthenticated visitor gets nothing from any page or API.

The console runs as `lovelorn console` in its own process on the embedded Redis. With
LOVELORN_CONSOLE_SCREENSHOTS=DIR the queue, an alert and the quality page are saved there
as console_queue.png, console_alert.png and console_quality.png (`=docs` for the README).
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from monitor.console.passwords import hash_password
from monitor.console.reviewers import add_reviewer
from monitor.embedded.processes import free_port
from monitor.settings import Settings
from tests.console.helpers import CONSOLE_SECRET
from tests.console.scenes import ALERT_TEXTS, seed_scene
from tests.fixtures import run_cli

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
PASSWORD = "a long reviewer passphrase"

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="/usr/bin/chromium is missing: apt-get install -y chromium"
)


def _env(settings: Settings, home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOVELORN_")}
    return env | {
        "LOVELORN_HOME": str(home),
        "LOVELORN_REDIS__URL": settings.redis.url or "",
        "LOVELORN_REDIS__KEY_PREFIX": settings.redis.key_prefix,
        "LOVELORN_REGISTRY__BUNDLED": "true",
        "LOVELORN_CONSOLE__SECRET_KEY": CONSOLE_SECRET,
        "LOVELORN_ALERTS__PRIVACY_MODE": "true",
        "LOVELORN_ALERTS__PSEUDONYM_KEY": "browser-test-pseudonym-key",
    }


@pytest.fixture
def served(stack: Settings, tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """(base URL, environment) of a running `lovelorn console` over a seeded Redis."""
    home = tmp_path / "home"
    env = _env(stack, home)
    add_reviewer(home / "console-users.json", "mei", hash_password(PASSWORD), "care")
    asyncio.run(seed_scene(stack))
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "monitor", "console", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/login", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(
                    f"console did not start: {process.stderr.read().decode()[-2000:]}"
                )  # type: ignore[union-attr]
            time.sleep(0.2)
        yield base, env
    finally:
        process.terminate()
        process.wait(timeout=10)


def _routes(env: dict[str, str], entry: str) -> list[tuple[str, str]]:
    from starlette.routing import Route

    from monitor.console.app import create_app
    from monitor.settings import load_settings

    old = dict(os.environ)
    os.environ.update(env)
    try:
        app = create_app(load_settings())
    finally:
        os.environ.clear()
        os.environ.update(old)
    out = []
    for route in app.routes:
        assert isinstance(route, Route)
        path = (
            route.path.replace("{lane}", "alerts")
            .replace("{entry_id}", entry)
            .replace("{name}", "x")
        )
        out += [(m, path) for m in sorted(route.methods or ()) if m != "HEAD"]
    return out


def test_review_three_alerts_by_keyboard(
    served: tuple[str, dict[str, str]],
    stack: Settings,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    from playwright.sync_api import sync_playwright

    base, env = served
    shots = os.environ.get("LOVELORN_CONSOLE_SCREENSHOTS")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 860}, locale="zh-CN")
        page = context.new_page()
        script_errors: list[str] = []
        page.on("pageerror", lambda error: script_errors.append(str(error)))

        # -- an unauthenticated visitor: every page and API refuses -------------
        page.goto(f"{base}/queue")
        assert page.url.startswith(f"{base}/login")
        anonymous = context.request
        for method, path in _routes(env, "1-0"):
            if path == "/login" or path.startswith("/static/"):
                continue
            response = anonymous.fetch(
                f"{base}{path}", method=method, max_redirects=0, form={"verdict": "lovelorn"}
            )
            assert response.status in (303, 401), (method, path, response.status)
            assert not any(text in response.text() for text in ALERT_TEXTS), path

        # -- log in ---------------------------------------------------------------
        page.fill("input[name=name]", "mei")
        page.fill("input[name=password]", PASSWORD)
        with page.expect_navigation():
            page.keyboard.press("Enter")
        assert page.url.startswith(f"{base}/queue"), page.content()[-1500:]
        assert page.locator("tr.row").count() == 16  # 26 alerts, 10 reviewed by a colleague
        before = _quality(page, base)
        page.goto(f"{base}/queue")
        page.keyboard.press("j")
        page.keyboard.press("k")
        if shots:
            page.screenshot(path=str(Path(shots) / "console_queue.png"), full_page=False)

        # -- three verdicts, keyboard only ------------------------------------------
        first_text = page.locator("tr.row.selected td a").first.inner_text().rstrip("…")
        with page.expect_navigation():
            page.keyboard.press("Enter")
        assert "/review/alerts/" in page.url and first_text[:10] in page.inner_text("blockquote")
        page.keyboard.press("u")
        assert page.is_checked("#urgent")
        if shots:
            page.screenshot(path=str(Path(shots) / "console_alert.png"), full_page=True)
        seen = []
        for key in ("1", "2", "3"):
            seen.append(page.inner_text("blockquote"))
            with page.expect_navigation():
                page.keyboard.press(key)
            assert page.inner_text("#saved").startswith("Saved:")  # with an undo button
            assert page.locator("#undo button").is_visible()
        after = _quality(page, base)
        assert script_errors == []
        if shots:
            page.screenshot(path=str(Path(shots) / "console_quality.png"), full_page=True)
        context.close()
        browser.close()

    assert after["care"][1] == before["care"][1] + 2 and after["care"][2] == before["care"][2] + 1
    monkeypatch.setenv("LOVELORN_REDIS__URL", env["LOVELORN_REDIS__URL"])
    monkeypatch.setenv("LOVELORN_REDIS__KEY_PREFIX", env["LOVELORN_REDIS__KEY_PREFIX"])
    monkeypatch.setenv("LOVELORN_HOME", env["LOVELORN_HOME"])
    out = tmp_path / "verdicts.jsonl"
    assert run_cli("feedback", "export", "--out", str(out)).code == 0
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    mine = [r for r in rows if r["reviewer"] == "mei"]
    assert [(r["verdict"], r["urgent"]) for r in mine] == [
        ("lovelorn", True),
        ("not_lovelorn", False),
        ("unsure", False),
    ]
    assert [r["text"] for r in mine] == seen


def _quality(page, base: str) -> dict[str, tuple[int, int, int]]:  # type: ignore[no-untyped-def]
    """policy → (lovelorn, reviewed, unsure) of the current model, read off the page."""
    page.goto(f"{base}/quality")
    out = {}
    for row in page.locator("#precision tbody tr").all():
        cells = [c.inner_text() for c in row.locator("td").all()]
        policy, _, version = cells[0].partition(" · ")
        if version == "v1":
            out[policy] = (int(cells[1]), int(cells[2]), int(cells[5]))
    return out
