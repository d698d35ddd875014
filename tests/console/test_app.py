"""The console on the real embedded Redis: login, the gate on every route, CSRF, the review
flow with verdicts, audit and quality, shared team queues, and the SSO header mode."""

from __future__ import annotations

from pathlib import Path

from starlette.routing import Route

from monitor.console.passwords import hash_password
from monitor.settings import ConsoleUser, Settings
from monitor.store import AlertLog, AuditLog, Store, VerdictLog
from tests.console.helpers import Reviewer, console, console_settings, csrf, make_alert


async def _alerts(settings: Settings, n: int = 6) -> list:  # type: ignore[type-arg]
    alerts = [
        make_alert(
            i,
            ["care", "default"] + (["ads"] if i % 2 else []),
            score=0.6 + i / 50,
            user=f"u{i % 2}",
        )
        for i in range(n)
    ]
    async with Store(settings.redis) as store:
        await AlertLog(store).write(alerts)
    return alerts


def _paths(app, entry_id: str) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    """Every route of the app as (method, concrete path)."""
    out = []
    for route in app.routes:
        assert isinstance(route, Route)
        path = route.path.replace("{lane}", "alerts").replace("{entry_id}", entry_id)
        path = path.replace("{name}", "console.js")
        out += [(m, path) for m in sorted(route.methods or ["GET"]) if m != "HEAD"]
    return out


async def test_nothing_but_the_login_form_without_a_login(stack: Settings, tmp_path: Path) -> None:
    settings = console_settings(stack, tmp_path)
    alerts = await _alerts(settings)
    async with console(settings) as app, Reviewer(app) as stranger, Reviewer(app) as alice:
        await alice.login("alice")
        _, rows = await alice.queue()
        entry_id = rows[0].split("/")[3].split("?")[0]
        checked = 0
        for method, path in _paths(app, entry_id):
            if path == "/login" or path.startswith("/static/"):
                continue  # the form itself, and a stylesheet and a script without data
            response = await stranger.http.request(method, path, data={"verdict": "lovelorn"})
            assert response.status_code in (303, 401), (method, path, response.status_code)
            if response.status_code == 303:
                assert response.headers["location"].startswith("/login?next=")
            assert not any(a.text in response.text for a in alerts)
            checked += 1
        assert checked >= 8
        # a cookie signed with another key, or from before a password change, gets nothing
        stranger.http.cookies.set(
            "lovelorn_session", alice.http.cookies["lovelorn_session"][:-4] + "AAAA"
        )
        assert (await stranger.http.get("/api/queue")).status_code == 401
    changed = settings.console.model_copy(
        update={
            "users": settings.console.users
            | {"alice": ConsoleUser(password=hash_password("a new password"), team="care")}
        }
    )
    async with (
        console(settings.model_copy(update={"console": changed})) as app2,
        Reviewer(app2) as again,
    ):
        again.http.cookies.update(alice.http.cookies)
        assert (await again.http.get("/api/queue")).status_code == 401


async def test_login_logout_and_csrf(stack: Settings, tmp_path: Path) -> None:
    settings = console_settings(stack, tmp_path)
    await _alerts(settings)
    async with console(settings) as app, Reviewer(app) as alice:
        assert (await alice.login("alice", "wrong password")).status_code == 401
        assert (await alice.login("nobody")).status_code == 401
        page = await alice.http.get("/login")
        no_token = await alice.http.post("/login", data={"name": "alice", "password": "x"})
        assert no_token.status_code == 403
        foreign = await alice.http.post(
            "/login",
            data={"csrf": csrf(page.text), "name": "alice", "password": "x"},
            headers={"Origin": "https://evil.example"},
        )
        assert foreign.status_code == 403
        ok = await alice.login("alice")
        assert ok.status_code == 303 and ok.headers["location"] == "/queue"
        cookie = ok.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=lax" in cookie
        page, rows = await alice.queue()
        assert page.status_code == 200 and len(rows) == 6
        assert page.headers["content-security-policy"].startswith("default-src 'self'")
        # every form needs the session's token
        item = await alice.http.get(rows[0])
        action = rows[0].replace("?", "/verdict?", 1)
        for data in ({"verdict": "lovelorn"}, {"verdict": "lovelorn", "csrf": "forged"}):
            assert (await alice.http.post(action, data=data)).status_code == 403
        assert (await alice.http.post("/logout", data={"csrf": ""})).status_code == 403
        out = await alice.http.post("/logout", data={"csrf": csrf(item.text)})
        assert out.status_code == 303
        assert (await alice.http.get("/queue")).status_code == 303
    async with Store(settings.redis) as store:
        actions = [e["action"] for e in await AuditLog(store).recent()]
        assert actions.count("login_failed") == 2 and "login" in actions and "logout" in actions
        assert await VerdictLog(store).counts() == {}


async def test_review_flow_records_verdicts_audits_and_updates_quality(
    stack: Settings, tmp_path: Path
) -> None:
    settings = console_settings(stack, tmp_path)
    alerts = await _alerts(settings)
    async with console(settings) as app, Reviewer(app) as alice:
        await alice.login("alice")
        page, rows = await alice.queue("sort=score")
        assert "c5" in rows[0] or alerts[5].text in page.text
        item = await alice.http.get(rows[0])
        top = alerts[5]  # the highest score
        assert top.text in item.text and top.model_version in item.text and top.post_id in item.text
        assert "Earlier alerts" in item.text and alerts[3].text in item.text  # same user u1
        j = await alice.http.get(rows[0].replace("?", "/step?to=next&", 1))
        assert j.status_code == 303 and j.headers["location"].split("?")[0] == rows[1].split("?")[0]
        k = await alice.http.get(rows[0].replace("?", "/step?to=previous&", 1))
        assert k.headers["location"].startswith("/queue")  # nothing before the first
        done = await alice.decide(rows[0], "lovelorn", note="cried all night", urgent="on")
        assert done.status_code == 303 and done.headers["location"].startswith(
            rows[1].split("?")[0]
        )
        second = await alice.decide(rows[1], "not_lovelorn")
        assert second.status_code == 303
        third = await alice.decide(rows[2], "unsure")
        assert third.status_code == 303
        _, left = await alice.queue()
        assert len(left) == 3
        quality = await alice.http.get("/quality")
        assert (
            quality.status_code == 200
            and "<svg" in quality.text
            and "Reviewed precision" in quality.text
        )
        figures = (await alice.http.get("/api/quality")).json()
        care = next(r for r in figures["precision"] if r["label"] == "care · v1")
        assert (care["lovelorn"], care["reviewed"], care["unsure"]) == (1, 2, 1)
        assert figures["alerts_per_hour_total"]["care"] == 6
    async with Store(settings.redis) as store:
        verdicts = [v async for _, v in VerdictLog(store).scan()]
        assert [(v.comment_id, v.verdict) for v in verdicts] == [
            ("c5", "lovelorn"),
            ("c4", "not_lovelorn"),
            ("c3", "unsure"),
        ]
        first = verdicts[0]
        assert (first.reviewer, first.team, first.note, first.urgent) == (
            "alice",
            "care",
            "cried all night",
            True,
        )
        assert first.text == alerts[5].text and first.policies == ["ads", "care", "default"]
        assert await store.redis.xlen(store.keys.urgent) == 1
        audit = await AuditLog(store).recent()
        assert [e["action"] for e in audit].count("verdict") == 3
        assert any(e["action"] == "view_item" and e["id"] == alerts[5].alert_id for e in audit)
        assert all(alerts[5].text not in str(e) for e in audit)  # ids only, never texts


async def test_a_team_shares_one_queue_and_decides_once(stack: Settings, tmp_path: Path) -> None:
    settings = console_settings(stack, tmp_path)
    await _alerts(settings, 3)
    async with (
        console(settings) as app,
        Reviewer(app) as alice,
        Reviewer(app) as bob,
        Reviewer(app) as carol,
    ):
        for reviewer, name in ((alice, "alice"), (bob, "bob"), (carol, "carol")):
            await reviewer.login(name)
        _, alice_rows = await alice.queue()
        _, bob_rows = await bob.queue()
        assert alice_rows == bob_rows
        await alice.decide(alice_rows[0], "lovelorn")
        page, _ = await bob.queue()  # bob's stale list still shows it: he posts anyway
        late = await bob.post_verdict(bob_rows[0], "not_lovelorn", token=csrf(page.text))
        assert "decided=second" in late.headers["location"]
        _, bob_after = await bob.queue()
        assert len(bob_after) == 2
        _, carol_rows = await carol.queue()  # team ads: its own queue, still all three
        assert len(carol_rows) == 3
        _, ads_only = await carol.queue("policy=ads")
        assert len(ads_only) == 1
        _, care_view = await alice.queue("policy=care")
        assert len(care_view) == 2
    async with Store(settings.redis) as store:
        assert len([v async for _, v in VerdictLog(store).scan()]) == 1


async def test_header_mode_trusts_only_the_configured_proxy_header(
    stack: Settings, tmp_path: Path
) -> None:
    settings = console_settings(stack, tmp_path, auth="header", trusted_header="X-Auth-User")
    await _alerts(settings, 2)
    async with (
        console(settings) as app,
        Reviewer(app) as anonymous,
        Reviewer(app, **{"X-Auth-User": "dana"}) as dana,
    ):
        assert (await anonymous.http.get("/queue")).status_code == 401
        assert (await anonymous.http.get("/login")).status_code == 401
        page, rows = await dana.queue()
        assert page.status_code == 200 and "dana · team care" in page.text and len(rows) == 2
        assert (await dana.decide(rows[0], "lovelorn")).status_code == 303
        assert (
            await dana.http.post(rows[1].replace("?", "/verdict?", 1), data={"verdict": "lovelorn"})
        ).status_code == 403
        spoof = await dana.http.get("/queue", headers={"X-Auth-User": "not a name!"})
        assert spoof.status_code == 401


async def test_the_review_lane_is_reviewed_like_alerts(stack: Settings, tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from monitor.schemas import Sampled, Score, alert_id
    from monitor.store import ReviewLane

    settings = console_settings(stack, tmp_path)
    now = datetime.now(UTC)
    sample = Sampled(
        sample_id=alert_id("s1", "v1"), comment_id="s1", post_id="p9", reply_to="c77", user_id="u3",
        text="周末和朋友去看了海", score=0.05, threshold=0.5, model_version="v1", created_at=now, fetched_at=now,
    )  # fmt: skip
    score = Score(comment_id="s1", post_id="p9", score=0.05, model_version="v1", fetched_at=now)
    async with Store(settings.redis) as store:
        await ReviewLane(store).write([sample], [score])
    async with console(settings) as app, Reviewer(app) as alice:
        await alice.login("alice")
        page, rows = await alice.queue("lane=sample")
        assert len(rows) == 1 and "below 0.500" in page.text
        item = await alice.http.get(rows[0])
        assert "Sampled comment" in item.text and "in reply to comment c77" in item.text
        assert (await alice.decide(rows[0], "not_lovelorn")).status_code == 303
        assert (await alice.queue("lane=sample"))[1] == []
        assert (await alice.http.get("/queue?lane=sample&policy=care")).status_code == 400
        figures = (await alice.http.get("/api/quality")).json()
        assert figures["drift"]["v1"]["sample_reviewed"] == 1
    async with Store(settings.redis) as store:
        [(_, verdict)] = [v async for v in VerdictLog(store).scan()]
        assert (verdict.lane, verdict.alert_id, verdict.policies) == (
            "sample",
            sample.sample_id,
            [],
        )


async def test_score_drift_is_a_prometheus_gauge(stack: Settings, tmp_path: Path) -> None:
    import random
    from datetime import UTC, datetime

    import httpx

    from monitor.embedded.processes import free_port
    from monitor.schemas import Score
    from monitor.settings import RegistrySettings
    from monitor.store import ReviewLane

    port = free_port()
    settings = console_settings(stack, tmp_path, metrics_port=port).model_copy(
        update={"registry": RegistrySettings(bundled=True)}  # the bundled model becomes v1
    )
    rng, now = random.Random(3), datetime.now(UTC)
    scores = [
        Score(
            comment_id=f"x{i}",
            post_id="p",
            score=rng.uniform(0.2, 0.9),
            model_version="v1",
            fetched_at=now,
        )
        for i in range(500)
    ]
    async with Store(settings.redis) as store:
        await ReviewLane(store).write([], scores)
    async with console(settings) as app, Reviewer(app) as alice, httpx.AsyncClient() as scraper:
        await alice.login("alice")
        figures = (await alice.http.get("/api/quality")).json()
        assert figures["drift"]["v1"]["psi"] > 1.0  # the bundled model's validation scores are low
        metrics = (await scraper.get(f"http://127.0.0.1:{port}/metrics")).text
        line = next(x for x in metrics.splitlines() if x.startswith("lovelorn_console_score_psi{"))
        assert 'model_version="v1"' in line and float(line.split()[-1]) > 1.0


async def test_why_this_score_marks_the_words_escaped_and_audited(
    stack: Settings, tmp_path: Path
) -> None:
    import html
    import re

    from monitor.text import clean_text
    from tests.fixtures import SIGNAL, train_keyword_model

    train_keyword_model(tmp_path)  # v1 keys on SIGNAL alone
    settings = console_settings(stack, tmp_path)
    text = f"三个月了{SIGNAL}，还是放不下他<script>alert(1)</script>"
    async with Store(settings.redis) as store:
        await AlertLog(store).write([make_alert(0, text=text, version="v1")])
    async with console(settings) as app, Reviewer(app) as alice:
        await alice.login("alice")
        _, rows = await alice.queue()
        item = await alice.http.get(rows[0])
        link = re.search(r'href="([^"]+/why[^"]*)" id="why"', item.text)
        assert link, "no 'why this score?' link on the alert page"
        why = await alice.http.get(html.unescape(link.group(1)))
        assert why.status_code == 200, why.text
        block = re.search(r'<blockquote class="comment why" lang="zh">(.*?)</blockquote>', why.text)
        assert block and "<mark" in block.group(1)
        assert "<script>" not in why.text  # the comment's own markup stays text
        shown = html.unescape(re.sub(r"</?mark[^>]*>", "", block.group(1)))
        assert shown == clean_text(text) and "alert(1)" in shown  # as the model read it, marked
        marked = "".join(re.findall(r"<mark[^>]*>(.*?)</mark>", block.group(1)))
        assert SIGNAL in marked, block.group(1)
    async with Store(settings.redis) as store:
        audit = await AuditLog(store).recent()
        assert any(e["action"] == "view_explanation" and e["team"] == "care" for e in audit)
        assert all(text not in str(e) for e in audit)
