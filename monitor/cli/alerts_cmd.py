"""``lovelorn alerts tail``: follow the alert stream as a consumer group member.

The member is named after the host by default, so a restarted tail on the same host gets
its own unacknowledged alerts back at once; what a member on another host (or a replaced
container) left unacknowledged is taken over after ``redis.alert_reclaim_idle_s``.
"""

from __future__ import annotations

import asyncio
import socket

import click

from monitor.cli.context import AppContext
from monitor.cli.runner import run_until_signalled


@click.group("alerts")
def alerts_group() -> None:
    """Read alerts from Redis."""


@alerts_group.command("tail")
@click.option(
    "--group", default="cli", show_default=True, help="Consumer group (one per downstream service)."
)
@click.option(
    "--consumer",
    default=None,
    help="Member name (default: this host). Alerts any member left unacknowledged for "
    "redis.alert_reclaim_idle_s (default 60 s) come to this one.",
)
@click.option(
    "--policy",
    default=None,
    help="Only alerts satisfying this policy (e.g. care); read in its own group <group>:<policy>.",
)
@click.option(
    "--from-start",
    is_flag=True,
    hidden=True,
    expose_value=False,
    help="Kept for old scripts: a new group always starts at the oldest alert kept.",
)
@click.option(
    "--count", type=click.IntRange(min=1), default=None, help="Stop after this many alerts."
)
@click.option("--json", "as_json", is_flag=True, help="One JSON alert per line.")
@click.pass_obj
def tail(
    app: AppContext,
    group: str,
    consumer: str | None,
    policy: str | None,
    count: int | None,
    as_json: bool,
) -> None:
    """Print alerts as they arrive and acknowledge each one; waits out a Redis outage."""
    from monitor.errors import StoreUnavailable
    from monitor.retry import Retry, Stopped
    from monitor.store import AlertLog, Store

    known = sorted({"default", *app.settings.alerts.policies})
    if policy is not None and policy not in known:
        raise click.BadParameter(
            f"unknown policy {policy!r}; known: {', '.join(known)}", param_hint="--policy"
        )
    settings = app.services_settings(kafka=False)

    async def show(alert) -> None:  # type: ignore[no-untyped-def]
        if as_json:
            click.echo(alert.model_dump_json())
        else:
            click.echo(
                f"{alert.emitted_at:%H:%M:%S} {alert.score:.3f} [{','.join(alert.policies)}] "
                f"user={alert.user_id} {alert.text or '(text withheld)'}"
            )

    async def main(stop: asyncio.Event) -> None:
        retry = Retry("Redis", base_s=0.5, cap_s=15.0, retry_on=(StoreUnavailable,))
        async with Store(settings.redis) as store:
            try:
                await AlertLog(store).read(
                    group,
                    consumer or socket.gethostname(),
                    show,
                    policy=policy,
                    limit=count,
                    retry=retry,
                    stop=stop,
                )
            except Stopped:
                pass

    run_until_signalled(main)


COMMANDS = [alerts_group]
