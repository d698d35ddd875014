"""``console``: the review console's settings (users, sessions, teams, claims), in a module
of its own so ``sections`` stays short."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from monitor.settings.login import LoginSettings

__all__ = ["ConsoleSettings", "ConsoleUser"]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


_HASH = re.compile(r"scrypt\$\d+\$\d+\$\d+\$[A-Za-z0-9_=-]+\$[A-Za-z0-9_=-]+")


class ConsoleUser(_Section):
    """A reviewer: a salted scrypt hash (``lovelorn console adduser`` writes one) and a team."""

    password: str = Field(description="scrypt$N$r$p$salt$hash, never the password itself")
    team: str = Field("care", pattern=r"^[A-Za-z0-9_-]{1,32}$")

    @field_validator("password")
    @classmethod
    def _hashed(cls, value: str) -> str:
        if not _HASH.fullmatch(value):
            raise ValueError("is not a password hash: create one with `lovelorn console adduser`")
        return value


class ConsoleSettings(_Section):
    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=1, le=65535)] = 8765
    secret_key: SecretStr | None = Field(
        None, description="signs session cookies; required to start the console"
    )
    users: dict[str, ConsoleUser] = {}
    users_file: Path | None = Field(
        None, description="JSON users file; unset = <home>/console-users.json"
    )
    auth: Literal["password", "header"] = Field(
        "password", description="header = trust a reverse proxy's user header (SSO)"
    )
    trusted_header: str = Field(
        "X-Forwarded-User", description="the proxy's user header, read only when auth = header"
    )
    default_team: str = Field(
        "care", pattern=r"^[A-Za-z0-9_-]{1,32}$", description="team of header users not in users"
    )
    session_max_age_s: Annotated[int, Field(ge=60)] = 8 * 3600
    session_idle_s: Annotated[int, Field(ge=60)] = Field(
        1800, description="a session unused this long ends (its server-side record expires)"
    )
    login: LoginSettings = LoginSettings()
    secure_cookies: bool = Field(False, description="set behind TLS: cookies only over HTTPS")
    queue_window: Annotated[int, Field(ge=10, le=1000)] = Field(
        100, description="alerts a team's queue holds delivered but undecided"
    )
    audit_maxlen: Annotated[int, Field(ge=1000)] = 1_000_000
    metrics_port: Annotated[int, Field(ge=0, le=65535)] = Field(
        0, description="Prometheus endpoint of `lovelorn console` (score PSI gauge); 0 = off"
    )
    # teams besides the alert policies' names; a reviewer of any other team is refused
    teams: list[Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,32}$")]] = []
    # the policy tags a team sees (other policies stay hidden); a team not listed sees all
    team_policies: dict[str, list[str]] = {"care": ["care", "default"]}
    claim_lease_s: Annotated[float, Field(gt=0, le=3600)] = 90.0  # an opened alert stays yours
    undo_s: Annotated[float, Field(ge=0, le=600)] = 60.0  # a verdict can be undone; 0 = never
