"""`lovelorn console` and `console adduser`: accounts in a private file, one-line refusals."""

from __future__ import annotations

import io
import json
import stat
import sys
from pathlib import Path

import pytest

from monitor.console.passwords import check_password
from monitor.settings import Settings
from tests.fixtures import run_cli


@pytest.fixture
def env(stack: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("LOVELORN_HOME", str(tmp_path))
    monkeypatch.setenv("LOVELORN_REDIS__URL", stack.redis.url or "")
    return tmp_path


def test_adduser_writes_a_private_hashed_users_file(
    env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("a fine long password\n"))
    result = run_cli("console", "adduser", "mei", "--team", "ads", "--password-stdin")
    assert result.code == 0, result.err
    path = env / "console-users.json"
    users = json.loads(path.read_text())
    assert users["mei"]["team"] == "ads" and "a fine long password" not in path.read_text()
    assert check_password("a fine long password", users["mei"]["password"])
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    monkeypatch.setattr(sys, "stdin", io.StringIO("short\n"))
    refused = run_cli("console", "adduser", "mei", "--password-stdin")
    assert refused.code == 2 and "at least 10 characters" in refused.err
    monkeypatch.setattr(sys, "stdin", io.StringIO("a fine long password\n"))
    bad_name = run_cli("console", "adduser", "no spaces please", "--password-stdin")
    assert bad_name.code == 1 and "not allowed" in bad_name.err and bad_name.err.count("\n") == 1
    monkeypatch.setattr(sys, "stdin", io.StringIO("a fine long password\n"))
    bad_team = run_cli("console", "adduser", "mei", "--team", "care:all", "--password-stdin")
    assert bad_team.code == 2 and "unknown team 'care:all'" in bad_team.err


def test_console_refuses_to_start_without_a_secret_or_with_a_broken_users_file(
    env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = run_cli("console")
    assert result.code == 1 and "console.secret_key" in result.err
    assert result.err.count("\n") == 1 and "Traceback" not in result.err
    monkeypatch.setenv("LOVELORN_CONSOLE__SECRET_KEY", "s" * 32)
    (env / "console-users.json").write_text('{"mei": {"password": "plain text", "team": "care"}}')
    broken = run_cli("console")
    assert broken.code == 1 and "console users file" in broken.err and broken.err.count("\n") == 1
