"""``lovelorn user export|forget ID``: data-subject requests for one commenter.

The ID is the Weibo user id; in privacy mode alerts hold its keyed pseudonym, which is
derived here too, so both forms are found. Kafka topics are not touched: their records
expire with the topics' retention.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import click

from monitor.cli.context import AppContext

if TYPE_CHECKING:
    from monitor.settings import Settings
    from monitor.store import DataSubjects

T = TypeVar("T")


@click.group("user")
def user_group() -> None:
    """What the monitor keeps about one commenter: export it, or erase it."""


def _ids(settings: Settings, user_id: str) -> list[str]:
    from monitor.scoring.decider import Decider

    decider = Decider(settings.alerts, max_text_chars=settings.scorer.max_text_chars)
    return list(dict.fromkeys([user_id, decider.user_ref(user_id) or user_id]))


def _subject(user_id: str) -> str:
    """The audit log names a request by a digest, never by the id it may have to forget."""
    return hashlib.sha256(user_id.encode()).hexdigest()[:16]


def _audited(
    settings: Settings,
    user_id: str,
    action: str,
    work: Callable[[DataSubjects, list[str]], Awaitable[T]],
) -> T:
    """Run ``work`` on the user's ids (plain and pseudonymous) and record it in the audit log."""
    from monitor.store import AuditLog, DataSubjects, Store

    ids = _ids(settings, user_id)

    async def run() -> T:
        async with Store(settings.redis) as store:
            result = await work(DataSubjects(store), ids)
            await AuditLog(store, maxlen=settings.console.audit_maxlen).record(
                _who(), action, subject=_subject(user_id)
            )
            return result

    return asyncio.run(run())


@user_group.command("export")
@click.argument("user_id")
@click.option(
    "--out",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Write JSON here instead of standard output.",
)
@click.pass_obj
def export(app: AppContext, user_id: str, out: Path | None) -> None:
    """Alerts, per-user state, cooldown, verdicts and review-lane entries about USER_ID."""
    settings = app.services_settings(kafka=False)
    data = _audited(settings, user_id, "user_export", lambda subjects, ids: subjects.export(ids))
    text = json.dumps(data, ensure_ascii=False, indent=2)
    if out is None:
        click.echo(text)
    else:
        out.write_text(text + "\n", encoding="utf-8")
        click.echo(f"exported to {out}")


@user_group.command("forget")
@click.argument("user_id")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_obj
def forget(app: AppContext, user_id: str, yes: bool) -> None:
    """Delete everything kept in Redis about USER_ID (alerts, state, verdicts, review lane)."""
    settings = app.services_settings(kafka=False)
    if not yes:
        click.confirm(f"erase everything about {user_id} from Redis?", abort=True)
    removed = _audited(settings, user_id, "user_forget", lambda subjects, ids: subjects.forget(ids))
    click.echo("erased: " + ", ".join(f"{n} {kind}" for kind, n in removed.items()))
    click.echo(
        "note: Kafka topics keep their copies until retention expires; earlier exports are yours to delete"
    )


def _who() -> str:
    import getpass

    return f"cli:{getpass.getuser()}"


COMMANDS = [user_group]
