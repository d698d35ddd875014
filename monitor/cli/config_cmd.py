"""``lovelorn config show``."""

from __future__ import annotations

import json

import click

from monitor.cli.context import AppContext


@click.group("config")
def config_group() -> None:
    """Inspect settings."""


@config_group.command("show")
@click.pass_obj
def show(app: AppContext) -> None:
    """Print the effective settings as JSON, secrets and credentials in URLs masked."""
    click.echo(json.dumps(app.settings.masked(), indent=2, ensure_ascii=False))


COMMANDS = [config_group]
