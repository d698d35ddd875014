"""Plain words (issue 28, item 3), in the app tier on the real embedded Redis: a reviewer of a
team that is not configured is refused (at `adduser`, at login, at the gate), the care team
sees no ads policy tags anywhere, and the quality page says in one plain sentence each what
PSI and the Wilson interval mean."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import pytest

from monitor.console.passwords import hash_password
from monitor.errors import ConfigError
from monitor.settings import ConsoleUser, Settings
from monitor.store import AlertLog, AuditLog, Store
from tests.console.helpers import Reviewer, console, console_settings, make_alert
from tests.fixtures import run_cli


def test_adduser_refuses_a_team_that_is_not_configured(
    stack: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOVELORN_HOME", str(tmp_path))
    monkeypatch.setattr(sys, "stdin", io.StringIO("a fine long password\n"))
    refused = run_cli("console", "adduser", "eve", "--team", "carre", "--password-stdin")
    assert refused.code == 2 and refused.err.count("\n") == 1
    assert "unknown team 'carre'" in refused.err and "the teams are ads, care" in refused.err
    assert not (tmp_path / "console-users.json").exists()  # no second queue for "carre"
    monkeypatch.setenv("LOVELORN_CONSOLE__TEAMS", '["night"]')  # a team of its own, on purpose
    monkeypatch.setattr(sys, "stdin", io.StringIO("a fine long password\n"))
    night = run_cli("console", "adduser", "eve", "--team", "night", "--password-stdin")
    assert night.code == 0, night.err
    assert json.loads((tmp_path / "console-users.json").read_text())["eve"]["team"] == "night"


async def test_an_account_of_an_unknown_team_cannot_log_in(stack: Settings, tmp_path: Path) -> None:
    settings = console_settings(stack, tmp_path)
    eve = ConsoleUser(password=hash_password("eve's long password"), team="carre")
    users = settings.console.users | {"eve": eve}
    settings = settings.model_copy(
        update={"console": settings.console.model_copy(update={"users": users})}
    )
    async with console(settings) as app, Reviewer(app) as browser:
        refused = await browser.login("eve", "eve's long password")
        assert refused.status_code == 403
        assert "team &#39;carre&#39; is not one of this console&#39;s teams" in refused.text
        assert "(ads, care)" in refused.text
        assert (await browser.http.get("/api/queue")).status_code == 401
        wrong = await browser.login("eve", "a wrong password")  # says nothing before the password
        assert wrong.status_code == 401 and "carre" not in wrong.text
    header = settings.console.model_copy(
        update={"auth": "header", "trusted_header": "X-Auth-User", "default_team": "carre"}
    )
    with pytest.raises(ConfigError, match=r"console\.default_team: unknown team 'carre'"):
        async with console(settings.model_copy(update={"console": header})):
            pass
    async with Store(settings.redis) as store:
        refusals = [e for e in await AuditLog(store).recent() if e["who"] == "eve"]
        assert [e["action"] for e in refusals][-1] == "login_refused_unknown_team"


async def test_the_care_team_sees_no_ads_tags_and_plain_words_on_quality(
    stack: Settings, tmp_path: Path
) -> None:
    settings = console_settings(stack, tmp_path)
    async with Store(settings.redis) as store:
        await AlertLog(store).write([make_alert(i, ["ads", "care", "default"]) for i in range(3)])
    async with console(settings) as app, Reviewer(app) as alice, Reviewer(app) as carol:
        await alice.login("alice")  # care
        await carol.login("carol")  # ads
        page, rows = await alice.queue()
        assert '<span class="tag">care</span>' in page.text
        assert '<span class="tag">ads</span>' not in page.text
        assert '<option value="ads"' not in page.text
        assert (await alice.http.get("/queue?policy=ads")).status_code == 400
        item = await alice.http.get(rows[0])
        assert '<span class="tag">care</span>' in item.text
        assert '<span class="tag">ads</span>' not in item.text
        api = (await alice.http.get("/api/queue")).json()
        assert all("ads" not in row["policies"] for row in api) and len(api) == 3
        carols, _ = await carol.queue()
        assert '<span class="tag">ads</span>' in carols.text  # the ads team's own tags
        await alice.decide(rows[0], "lovelorn")
        await carol.decide((await carol.queue())[1][0], "lovelorn")
        quality = await alice.http.get("/quality")
        assert "care · v1" in quality.text and "ads · v1" not in quality.text
        labels = [r["label"] for r in (await alice.http.get("/api/quality")).json()["precision"]]
        assert "ads · v1" not in labels and "care · v1" in labels
        assert "ads:" not in quality.text  # the alerts-per-hour totals
        # one plain sentence each, next to the plots
        assert "Score drift (PSI) says how far the scores" in quality.text
        assert "How sure we are of this precision" in quality.text
        ads_quality = await carol.http.get("/quality")
        assert "ads · v1" in ads_quality.text
