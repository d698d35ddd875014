"""Reviewer accounts: ``console.users`` in the settings plus a JSON users file.

The file (``console.users_file``, default ``<home>/console-users.json``) is what
``lovelorn console adduser`` writes, readable by its owner only; entries in the settings
win over the file's. It maps a name to ``{"password": "scrypt$…", "team": "care"}``: the
hash, never a password.

Teams: a team is a queue of its own (its own consumer groups), so a misspelt team must be
refused rather than quietly open a second queue nobody else reads. The teams are the alert
policies' names plus ``console.teams`` (``known_teams``); ``adduser`` refuses any other,
and so do the login and the gate, for accounts written before or by hand.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from pydantic import ValidationError

from monitor.errors import ConfigError
from monitor.settings import ConsoleUser, Settings

__all__ = [
    "ReviewerDirectory",
    "add_reviewer",
    "known_teams",
    "load_reviewers",
    "unknown_team",
    "users_file",
    "valid_name",
]

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")


def valid_name(name: str) -> bool:
    return bool(_NAME.fullmatch(name))


def known_teams(settings: Settings) -> list[str]:
    return sorted({*settings.alerts.policies, *settings.console.teams})


def unknown_team(settings: Settings, team: str) -> str | None:
    """Why ``team`` is refused (naming the known teams), or None when it is known."""
    known = known_teams(settings)
    if team in known:
        return None
    return (
        f"unknown team {team!r}: the teams are {', '.join(known)} "
        "(the alert policies' names, and console.teams for others)"
    )


def users_file(settings: Settings) -> Path:
    return settings.console.users_file or settings.home / "console-users.json"


def _read(path: Path) -> dict[str, ConsoleUser]:
    if not path.is_file():
        return {}
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(raw, dict):
            raise ValueError("expected a JSON object of name -> {password, team}")
        return {name: ConsoleUser.model_validate(entry) for name, entry in raw.items()}
    except (ValueError, ValidationError) as exc:
        first = str(exc).splitlines()[0]
        raise ConfigError(f"console users file {path} is unreadable: {first}") from None


def load_reviewers(settings: Settings) -> dict[str, ConsoleUser]:
    users = _read(users_file(settings)) | dict(settings.console.users)
    bad = [name for name in users if not valid_name(name)]
    if bad:
        raise ConfigError(
            f"console user name(s) {', '.join(map(repr, bad))} not allowed: use letters, digits, . _ @ -"
        )
    return users


def add_reviewer(path: Path, name: str, password_hash: str, team: str) -> None:
    """Add or replace one account; the file is replaced atomically and kept private (0600)."""
    if not valid_name(name):
        raise ConfigError(
            f"user name {name!r} not allowed: use letters, digits, . _ @ - (up to 64)"
        )
    users = _read(path)
    try:
        users[name] = ConsoleUser(password=password_hash, team=team)
    except ValidationError:
        raise ConfigError(
            f"team {team!r} not allowed: use letters, digits, _ and - (up to 32)"
        ) from None
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        json.dump({n: u.model_dump() for n, u in sorted(users.items())}, out, indent=2)
    tmp.replace(path)


class ReviewerDirectory:
    """The accounts, re-read when the users file changes (``adduser`` needs no restart)."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._path = users_file(settings)
        self._stamp: float | None = None
        self._users = self._load()

    def get(self, name: str) -> ConsoleUser | None:
        return self._load().get(name)

    def _load(self) -> dict[str, ConsoleUser]:
        try:
            stamp: float | None = self._path.stat().st_mtime
        except OSError:
            stamp = None
        if stamp != self._stamp or not hasattr(self, "_users"):
            self._users, self._stamp = load_reviewers(self._settings), stamp
        return self._users
