"""One alert, one reviewer (issue 28, item 5), in the app tier on the real embedded Redis:
teammates are never handed the same alert, a verdict that comes second (or on an alert a
teammate has open) is reported as such by the page and the API, a claim whose lease runs
out hands the alert back, and a verdict can be undone for a short while (audited), then no
more."""

from __future__ import annotations

import asyncio
import html
import re
from pathlib import Path

from monitor.settings import Settings
from monitor.store import AlertLog, AuditLog, Store, VerdictLog
from tests.console.helpers import Reviewer, console, console_settings, csrf, make_alert

CLAIM = re.compile(r'data-claim="(\w+)"')
UNDO = re.compile(r'action="(/review/[^"]+/undo[^"]*)"')


async def _seed(settings: Settings, n: int) -> None:
    alerts = [make_alert(i, score=0.5 + i / 100) for i in range(n)]
    async with Store(settings.redis) as store:
        await AlertLog(store).write(alerts)


async def _audit(settings: Settings) -> list[dict[str, str]]:
    async with Store(settings.redis) as store:
        return await AuditLog(store).recent(500)


def _entry(href: str) -> str:
    return href.split("?")[0]


async def test_teammates_are_never_handed_the_same_alert(stack: Settings, tmp_path: Path) -> None:
    settings = console_settings(stack, tmp_path)
    await _seed(settings, 12)
    async with (
        console(settings) as app,
        Reviewer(app) as alice,
        Reviewer(app) as bob,
        Reviewer(app) as carol,
    ):
        for reviewer, name in ((alice, "alice"), (bob, "bob"), (carol, "carol")):
            await reviewer.login(name)

        held: dict[str, set[str]] = {"alice": set(), "bob": set()}

        async def take_top(reviewer: Reviewer, name: str) -> str:
            """Open the first alert of the queue as ``name`` sees it, besides those they hold."""
            _, rows = await reviewer.queue()
            href = next(h for h in rows if _entry(h) not in held[name])
            page = await reviewer.http.get(href)
            assert CLAIM.search(page.text).group(1) == "yours"  # type: ignore[union-attr]
            held[name].add(_entry(href))
            return _entry(href)

        # turn by turn, each opens the top of the queue as they see it, keeping what they hold
        handed = [
            await take_top(r, n) for _ in range(3) for r, n in ((alice, "alice"), (bob, "bob"))
        ]
        assert len(set(handed)) == 6
        _, alice_rows = await alice.queue()
        _, bob_rows = await bob.queue()
        bobs = set(handed[1::2])
        assert not bobs & {_entry(h) for h in alice_rows}  # bob's open alerts: not in hers
        assert set(handed[::2]) <= {_entry(h) for h in alice_rows}  # her own still are
        _, carol_rows = await carol.queue()  # team ads: claims of care mean nothing there
        assert len(carol_rows) == 12

        # at the same moment, on the same alert: exactly one gets it, the other is told who
        top = alice_rows[0] if _entry(alice_rows[0]) not in handed else alice_rows[-1]
        pages = await asyncio.gather(alice.http.get(top), bob.http.get(top))
        claims = [CLAIM.search(p.text).group(1) for p in pages]  # type: ignore[union-attr]
        assert sorted(claims) == ["held", "yours"]
        loser = pages[claims.index("held")]
        winner = ("alice", "bob")[claims.index("yours")]
        assert f"{winner} has this alert open" in loser.text and 'id="verdict"' not in loser.text

        # the API answers the same way: a claim is 409 while a teammate holds it
        token = csrf(loser.text)
        other = (alice, bob)[claims.index("held")]
        taken = await other.http.post(f"{_entry(top)}/claim", data={"csrf": token})
        assert taken.status_code == 409 and taken.json()["holder"] == winner
        api = (await other.http.get("/api/queue")).json()
        assert _entry(top).rsplit("/", 1)[1] not in {row["entry_id"] for row in api}

        # leaving an alert with j (or back to the queue) hands it back at once
        mine = handed[0]  # alice's first
        await alice.http.get(f"{mine}/step?to=next")
        _, bob_rows = await bob.queue()
        assert mine in {_entry(h) for h in bob_rows}
    actions = [e["action"] for e in await _audit(settings)]
    assert "claim_released" in actions
    assert any(e.get("claim") == "held" for e in await _audit(settings))


async def test_a_second_verdict_is_reported_as_second(stack: Settings, tmp_path: Path) -> None:
    settings = console_settings(stack, tmp_path)
    await _seed(settings, 3)
    async with console(settings) as app, Reviewer(app) as alice, Reviewer(app) as bob:
        await alice.login("alice")
        await bob.login("bob")
        _, rows = await alice.queue()
        href = rows[0]
        bobs_page = await bob.http.get(href)  # bob opens it first: his
        token = csrf((await alice.http.get("/queue")).text)

        # alice posts anyway (a stale page, or a script): refused, and told why
        claimed = await alice.post_verdict(href, "lovelorn", token=token, as_json=True)
        assert claimed.status_code == 409
        assert claimed.json() | {"next": None} == {
            "recorded": False, "status": "claimed", "by": "bob",
            "verdict_id": None, "undo_s": None, "next": None,
        }  # fmt: skip
        page = await alice.post_verdict(href, "lovelorn", token=token)
        assert (
            "decided=claimed" in page.headers["location"] and "by=bob" in page.headers["location"]
        )
        told = await alice.http.get(page.headers["location"])
        assert "Not saved: bob has that alert open" in told.text

        # bob decides; alice's verdict now comes second, on the page and in the API
        saved = await bob.post_verdict(href, "not_lovelorn", token=csrf(bobs_page.text))
        assert "decided=saved" in saved.headers["location"]
        second = await alice.post_verdict(href, "lovelorn", token=token)
        assert "decided=second" in second.headers["location"]
        told = await alice.http.get(second.headers["location"])
        assert "Not saved: bob had already decided that alert" in told.text
        api = await alice.post_verdict(href, "unsure", token=token, as_json=True)
        assert api.status_code == 409 and api.json()["status"] == "second"
        assert api.json()["recorded"] is False
        # and the alert, opened again, says it is decided, with no verdict form
        again = await alice.http.get(href)
        assert 'data-claim="decided"' in again.text and 'id="verdict"' not in again.text
    async with Store(settings.redis) as store:
        verdicts = [v async for _, v in VerdictLog(store).scan()]
        assert [(v.reviewer, v.verdict) for v in verdicts] == [("bob", "not_lovelorn")]
    actions = [e["action"] for e in await _audit(settings)]
    assert actions.count("verdict_refused_claimed") == 2
    assert actions.count("verdict_refused_second") == 2 and actions.count("verdict") == 1


async def test_a_lease_that_runs_out_hands_the_alert_back(stack: Settings, tmp_path: Path) -> None:
    settings = console_settings(stack, tmp_path, claim_lease_s=1.0)
    await _seed(settings, 2)
    async with console(settings) as app, Reviewer(app) as alice, Reviewer(app) as bob:
        await alice.login("alice")
        await bob.login("bob")
        _, rows = await alice.queue()
        await alice.http.get(rows[0])  # opened, then the tab is closed: no release
        _, bobs = await bob.queue()
        assert _entry(rows[0]) not in {_entry(h) for h in bobs}
        await asyncio.sleep(1.3)
        _, bobs = await bob.queue()
        assert _entry(rows[0]) in {_entry(h) for h in bobs}
        page = await bob.http.get(rows[0])
        assert 'data-claim="yours"' in page.text
        # alice comes back to her old page: her verdict is refused, bob's stands
        token = csrf((await alice.http.get("/queue")).text)
        late = await alice.post_verdict(rows[0], "lovelorn", token=token, as_json=True)
        assert late.status_code == 409 and late.json()["by"] == "bob"
        done = await bob.post_verdict(rows[0], "not_lovelorn", token=csrf(page.text))
        assert "decided=saved" in done.headers["location"]


async def test_a_verdict_can_be_undone_for_a_while_and_then_not(
    stack: Settings, tmp_path: Path
) -> None:
    settings = console_settings(stack, tmp_path, undo_s=2.0)
    await _seed(settings, 3)
    async with console(settings) as app, Reviewer(app) as alice, Reviewer(app) as bob:
        await alice.login("alice")
        await bob.login("bob")
        _, rows = await alice.queue()
        first = _entry(rows[0])
        saved = await alice.decide(rows[0], "lovelorn", urgent="on")
        location = saved.headers["location"]
        assert "decided=saved" in location and "as=lovelorn" in location
        following = await alice.http.get(location)  # the next alert, with the notice on top
        assert "Saved: <strong>Lovelorn</strong>" in following.text
        action = UNDO.search(following.text)
        assert action and action.group(1).startswith(f"{first}/undo")
        _, bobs = await bob.queue()
        assert first not in {_entry(h) for h in bobs}  # decided (for now): in no one's queue
        async with Store(settings.redis) as store:
            assert len([v async for v in VerdictLog(store).scan()]) == 1
            assert await store.redis.xlen(store.keys.urgent) == 1

        # undo, within the window: the verdict, its counts and its escalation are gone,
        # and the alert is alice's to decide again
        undone = await alice.http.post(
            html.unescape(action.group(1)),
            data={"csrf": csrf(following.text), "leaving": _entry(location).rsplit("/", 1)[1]},
        )
        assert undone.status_code == 303 and "undo=undone" in undone.headers["location"]
        back = await alice.http.get(undone.headers["location"])
        assert "Verdict taken back" in back.text and 'data-claim="yours"' in back.text
        async with Store(settings.redis) as store:
            assert [v async for v in VerdictLog(store).scan()] == []
            assert await VerdictLog(store).counts() == {}
            assert await store.redis.xlen(store.keys.urgent) == 0
        _, mine = await alice.queue()
        assert first in {_entry(h) for h in mine}  # undecided, back in the queue

        # decided again; once the window has closed, undo is refused and the verdict stands
        again = await alice.decide(first + "?lane=alerts", "not_lovelorn")
        assert "decided=saved" in again.headers["location"]
        await asyncio.sleep(2.3)
        late = await alice.http.post(
            f"{first}/undo", data={"csrf": csrf(back.text)}, headers={"Accept": "application/json"}
        )
        assert late.status_code == 409 and late.json() == {"undone": False, "status": "late"}
        page = await alice.http.post(f"{first}/undo", data={"csrf": csrf(back.text)})
        told = await alice.http.get(page.headers["location"])
        assert "Too late to undo" in told.text
        # only the one who decided can undo
        _, rows = await bob.queue()
        decided = await bob.decide(rows[0], "unsure")
        theirs = _entry(rows[0])
        refused = await alice.http.post(
            f"{theirs}/undo", data={"csrf": csrf(back.text)}, headers={"Accept": "application/json"}
        )
        assert refused.status_code == 409 and refused.json()["status"] == "not_yours"
        assert "decided=saved" in decided.headers["location"]
        async with Store(settings.redis) as store:
            kept = [v async for _, v in VerdictLog(store).scan()]
            assert [(v.reviewer, v.verdict) for v in kept] == [
                ("alice", "not_lovelorn"),
                ("bob", "unsure"),
            ]
            # decided again, the entry left the returned set: in no queue, nothing pending
            _, rows = await alice.queue()
            assert first not in {_entry(h) for h in rows}
            assert await store.redis.zcard(store.keys.returned("care", "alerts")) == 0
            pending = await store.redis.xpending(store.keys.stream, "console:care")
            assert pending["pending"] == 1  # the one alert nobody decided
    actions = [e["action"] for e in await _audit(settings)]
    assert actions.count("verdict_undone") == 1
    assert actions.count("undo_refused_late") == 2 and actions.count("undo_refused_not_yours") == 1
