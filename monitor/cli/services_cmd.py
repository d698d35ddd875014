"""``lovelorn services up|down|status``: the embedded broker and Redis."""

from __future__ import annotations

import asyncio

import click

from monitor.cli.context import AppContext
from monitor.embedded import EmbeddedServices


@click.group("services")
def services_group() -> None:
    """Embedded Kafka-compatible broker and Redis (demo/tests, memory only)."""


@services_group.command("up")
@click.pass_obj
def up(app: AppContext) -> None:
    """Start the embedded services (if not running), wait until ready, create topics."""
    services = EmbeddedServices(app.settings)
    processes = asyncio.run(services.up())
    for process in processes.values():
        click.echo(f"{process.name:<6} {process.address}  (pid {process.pid})")
    click.echo(f"state: {services.state_dir / 'state.json'}")


@services_group.command("down")
@click.pass_obj
def down(app: AppContext) -> None:
    """Stop the embedded services this state directory started."""
    stopped = EmbeddedServices(app.settings).down()
    click.echo(
        "stopped: " + (", ".join(f"{p.name} (pid {p.pid})" for p in stopped) or "nothing running")
    )


@services_group.command("status")
@click.pass_obj
def status(app: AppContext) -> None:
    """Show whether each embedded service runs and answers; exit 1 unless all are healthy."""
    report = asyncio.run(EmbeddedServices(app.settings).status())
    for name, info in report.items():
        extra = f"  {info['address']}  (pid {info['pid']})" if "pid" in info else ""
        click.echo(f"{name:<6} {info['state']}{extra}")
    if any(info["state"] != "healthy" for info in report.values()):
        raise SystemExit(1)


COMMANDS = [services_group]
