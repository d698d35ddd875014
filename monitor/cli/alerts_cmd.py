"""``lovelorn alerts tail``: follow the alert stream as a consumer group member."""

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
@click.option("--consumer", default=None, help="Member name (default: this host).")
@click.option("--policy", default=None, help="Only alerts satisfying this policy (e.g. care).")
@click.option(
    "--from-start",
    is_flag=True,
    help="A new group starts at the oldest alert kept, not at new ones.",
)
@click.option("--count", type=int, default=None, help="Stop after this many alerts.")
@click.option("--json", "as_json", is_flag=True, help="One JSON alert per line.")
@click.pass_obj
def tail(
    app: AppContext,
    group: str,
    consumer: str | None,
    policy: str | None,
    from_start: bool,
    count: int | None,
    as_json: bool,
) -> None:
    """Print alerts as they arrive and acknowledge each one."""
    from monitor.redis_client import connect_redis
    from monitor.sinks.alert_reader import read_alerts
    from monitor.sinks.redis import RedisKeys

    settings = app.services_settings(kafka=False)

    async def main(stop: asyncio.Event) -> None:
        redis = connect_redis(settings.redis)

        async def show(alert) -> None:  # type: ignore[no-untyped-def]
            if policy and policy not in alert.policies:
                return
            if as_json:
                click.echo(alert.model_dump_json())
            else:
                click.echo(
                    f"{alert.emitted_at:%H:%M:%S} {alert.score:.3f} [{','.join(alert.policies)}] "
                    f"user={alert.user_id} {alert.text or '(text withheld)'}"
                )

        try:
            await read_alerts(
                redis,
                RedisKeys(settings.redis.key_prefix),
                group,
                consumer or socket.gethostname(),
                show,
                from_start=from_start,
                limit=count,
                stop=stop.is_set,
            )
        finally:
            await redis.aclose()

    run_until_signalled(main)


COMMANDS = [alerts_group]
