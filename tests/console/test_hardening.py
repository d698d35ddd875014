"""Hard to break into (issue 28, item 4, the server side), on the real embedded Redis: failed
logins throttled per account and per address, a logout that ends the session for every copy
of its cookie, idle sessions that end, a Redis outage page that names no internal address,
and a busy port refused in one ``error:`` line."""

from __future__ import annotations

import asyncio
import socket
import time
from pathlib import Path

import httpx
import pytest

from monitor.embedded.processes import free_port
from monitor.settings import LoginSettings, Settings
from monitor.store import AuditLog, LoginThrottle, Store
from tests.console.helpers import CONSOLE_SECRET, Reviewer, console, console_settings, csrf
from tests.fixtures import run_cli, start_cli


async def _actions(settings: Settings) -> list[str]:
    async with Store(settings.redis) as store:
        return [e["action"] for e in await AuditLog(store).recent(500)]


async def test_five_failures_lock_the_account_and_the_address(
    stack: Settings, tmp_path: Path
) -> None:
    # a first wait of a minute: no request of this test outlasts it, however slow the machine
    settings = console_settings(stack, tmp_path, login=LoginSettings(backoff_s=60))
    async with console(settings) as app, Reviewer(app, address="10.0.0.1") as mallory:
        for _ in range(5):
            assert (await mallory.login("alice", "wrong password")).status_code == 401
        right = await mallory.login("alice")  # the right password, straight after: refused
        assert right.status_code == 429 and "Too many failed logins" in right.text
        assert 1 <= int(right.headers["retry-after"]) <= 60
        assert (await mallory.http.get("/api/queue")).status_code == 401
        async with Reviewer(app, address="10.0.0.2") as alice:  # the account, from elsewhere
            assert (await alice.login("alice")).status_code == 429
        async with Reviewer(app, address="10.0.0.1") as bob:  # the address, another account
            assert (await bob.login("bob")).status_code == 429
        async with Reviewer(app, address="10.0.0.3") as carol:  # neither: unaffected
            assert (await carol.login("carol")).status_code == 303
        # spraying one guess over many names is the address's count too
        async with Reviewer(app, address="10.0.0.4") as sprayer:
            for name in ("nobody1", "nobody2", "bob", "carol", "not a name!"):
                assert (await sprayer.login(name, "wrong password")).status_code == 401
            assert (await sprayer.login("carol")).status_code == 429
        # an IPv6 client counts by its /64: the next address along is the same client
        async with Reviewer(app, address="2001:db8::1") as six:
            for _ in range(5):
                assert (await six.login("nobody", "wrong password")).status_code == 401
        async with (
            Reviewer(app, address="2001:db8::2") as same,
            Reviewer(app, address="2001:db8:0:1::1") as other,
        ):
            assert (await same.login("carol")).status_code == 429
            assert (await other.login("carol")).status_code == 303
    actions = await _actions(settings)
    assert actions.count("login_failed") == 15 and actions.count("login_throttled") == 5
    assert actions.count("login") == 2


async def test_the_wait_doubles_is_capped_and_a_login_clears_only_the_account(
    stack: Settings,
) -> None:
    limits = LoginSettings(free_failures=2, backoff_s=1.0, backoff_cap_s=3.0, forget_s=60)
    async with Store(stack.redis) as store:
        throttle = LoginThrottle(store, limits)
        assert await throttle.attempt("alice", "10.0.0.1") == 0  # counted as failed until
        assert await throttle.attempt("alice", "10.0.0.1") == 0  # a login clears it
        first = await throttle.attempt("alice", "10.0.0.1")
        assert 0 < first <= 1.0
        await asyncio.sleep(first + 0.05)
        assert await throttle.attempt("alice", "10.0.0.1") == 0  # the third failure
        assert 1.0 < await throttle.attempt("alice", "10.0.0.1") <= 2.0  # twice as long
        await throttle.succeeded("alice", "10.0.0.1")  # that third attempt was right after all
        assert await throttle.attempt("alice", "10.0.0.2") == 0  # the account starts afresh
        assert await throttle.attempt("bob", "10.0.0.1") > 0  # the address keeps two failures
        # many failures: the wait stops at the cap
        seconds, micros = await store.redis.time()
        key = f"{store.keys.prefix}console:login:account:eve"
        await store.redis.hset(key, mapping={"n": 60, "last": seconds * 1000 + micros // 1000})
        assert 2.5 < await throttle.attempt("eve", "10.0.0.9") <= 3.0
        # a burst of parallel guesses gets exactly the free attempts, not one more
        burst = await asyncio.gather(*(throttle.attempt("dora", "10.0.0.7") for _ in range(20)))
        assert burst.count(0) == 2


async def test_logout_ends_the_session_for_every_copy_of_its_cookie(
    stack: Settings, tmp_path: Path
) -> None:
    settings = console_settings(stack, tmp_path)
    async with console(settings) as app, Reviewer(app) as alice, Reviewer(app) as thief:
        assert (await alice.login("alice")).status_code == 303
        thief.http.cookies.update(alice.http.cookies)
        assert (await thief.http.get("/api/queue")).status_code == 200
        page = await alice.http.get("/queue")
        out = await alice.http.post("/logout", data={"csrf": csrf(page.text)})
        assert out.status_code == 303
        assert (await thief.http.get("/api/queue")).status_code == 401
        assert (await thief.http.get("/queue")).headers["location"].startswith("/login")
        assert (await alice.login("alice")).status_code == 303  # a new login works again
        assert (await alice.http.get("/api/queue")).status_code == 200
        assert (await thief.http.get("/api/queue")).status_code == 401


async def test_an_idle_session_ends_and_use_keeps_it_alive(stack: Settings, tmp_path: Path) -> None:
    settings = console_settings(stack, tmp_path)
    # 3 s, below the 60 s a settings file may ask for (model_copy does not validate)
    short = settings.console.model_copy(update={"session_idle_s": 3})
    settings = settings.model_copy(update={"console": short})
    async with console(settings) as app, Reviewer(app) as alice:
        assert (await alice.login("alice")).status_code == 303
        started = time.monotonic()
        for _ in range(3):  # in use for longer than the idle timeout, never idle that long
            await asyncio.sleep(1.5)
            assert (await alice.http.get("/api/queue")).status_code == 200
        assert time.monotonic() - started > 3
        await asyncio.sleep(3.5)
        assert (await alice.http.get("/api/queue")).status_code == 401
        assert (await alice.http.get("/queue")).headers["location"].startswith("/login")


async def test_a_redis_outage_page_names_no_internal_address(
    stack: Settings, tmp_path: Path
) -> None:
    settings = console_settings(stack, tmp_path)
    async with console(settings) as app, Reviewer(app) as alice:
        await alice.login("alice")
        cookies = dict(alice.http.cookies)
    port = free_port()  # nothing listens there: Redis is "down"
    down = settings.redis.model_copy(update={"url": f"redis://127.0.0.1:{port}/0"})
    async with (
        console(settings.model_copy(update={"redis": down})) as app,
        Reviewer(app) as again,
        Reviewer(app) as newcomer,
    ):
        again.http.cookies.update(cookies)
        answers = [
            await again.http.get("/queue"),  # refused by the login gate (the session check)
            await again.http.get("/api/queue"),
            await newcomer.login("bob"),  # refused by a handler (the login throttle)
        ]
        for answer in answers:
            assert answer.status_code == 503 and "try again" in answer.text
            assert answer.headers["retry-after"] and answer.headers["x-frame-options"] == "DENY"
            for internal in ("127.0.0.1", str(port), "redis", "Redis"):
                assert internal not in answer.text


def test_a_busy_port_is_one_error_line(
    stack: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOVELORN_HOME", str(tmp_path))
    monkeypatch.setenv("LOVELORN_REDIS__URL", stack.redis.url or "")
    monkeypatch.setenv("LOVELORN_CONSOLE__SECRET_KEY", CONSOLE_SECRET)
    with socket.create_server(("127.0.0.1", 0)) as busy:
        port = busy.getsockname()[1]
        result = run_cli("console", "--port", str(port))
    assert result.code == 1 and result.err.count("\n") == 1, result.err
    assert result.err.startswith(f"error: cannot serve the console on 127.0.0.1:{port}: ")
    assert "Address already in use" in result.err and "--port" in result.err
    assert "Errno" not in result.err and "ERROR" not in result.err


def test_the_console_serves_on_the_socket_it_bound(stack: Settings, tmp_path: Path) -> None:
    """The other side of binding before uvicorn: uvicorn serves on that socket."""
    import os

    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOVELORN_")} | {
        "LOVELORN_HOME": str(tmp_path),
        "LOVELORN_REDIS__URL": stack.redis.url or "",
        "LOVELORN_CONSOLE__SECRET_KEY": CONSOLE_SECRET,
    }
    log = tmp_path / "console.log"
    process = start_cli(["console", "--port", str(port)], env, log)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                answer = httpx.get(f"http://127.0.0.1:{port}/login", timeout=2)
                break
            except httpx.TransportError:
                assert process.poll() is None, log.read_text()
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.2)
        assert answer.status_code == 200 and 'name="csrf"' in answer.text
    finally:
        process.terminate()
        process.wait(timeout=30)
