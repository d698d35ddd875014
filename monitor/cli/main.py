"""The ``lovelorn`` command.

Every error a user can cause ends as one line on stderr and exit status 1 (2 for usage),
never a traceback. Commands from other packages (the trainer) join through the
``lovelorn.commands`` entry-point group, so ``monitor`` never imports ``trainer``.
"""

from __future__ import annotations

import sys
from importlib.metadata import entry_points
from pathlib import Path

import click
import structlog

from monitor.cli.context import AppContext
from monitor.errors import MonitorError
from monitor.logs import configure_logging

__all__ = ["cli", "main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="lovelorn-monitor", prog_name="lovelorn")
@click.option(
    "--config",
    "config_file",
    type=click.Path(path_type=Path, dir_okay=False),
    envvar="LOVELORN_CONFIG",
    help="TOML settings file (also LOVELORN_CONFIG).",
)
@click.option("-v", "--verbose", is_flag=True, help="Debug logging.")
@click.pass_context
def cli(ctx: click.Context, config_file: Path | None, verbose: bool) -> None:
    """Lovelorn Monitor: spot heartbreak in Weibo comment streams."""
    ctx.obj = AppContext(config_file=config_file, verbose=verbose)


def _register() -> None:
    from monitor.cli import (
        alerts_cmd,
        config_cmd,
        console_cmd,
        demo_cmd,
        feedback_cmd,
        models_cmd,
        poll_cmd,
        replay_cmd,
        run_cmd,
        score_cmd,
        services_cmd,
        user_cmd,
    )

    for module in (
        demo_cmd,
        config_cmd,
        services_cmd,
        models_cmd,
        score_cmd,
        poll_cmd,
        run_cmd,
        replay_cmd,
        alerts_cmd,
        console_cmd,
        feedback_cmd,
        user_cmd,
    ):
        for command in module.COMMANDS:
            cli.add_command(command)
    for entry in entry_points(group="lovelorn.commands"):
        cli.add_command(entry.load(), entry.name)


_register()


def main(argv: list[str] | None = None) -> None:
    configure_logging("console", "warning")
    try:
        status = cli.main(args=argv, prog_name="lovelorn", standalone_mode=False)
    except click.UsageError as exc:
        hint = f" (see `{exc.ctx.command_path} --help`)" if exc.ctx else ""
        click.echo(f"error: {exc.format_message()}{hint}", err=True)
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        click.echo(f"error: {exc.format_message()}", err=True)
        sys.exit(exc.exit_code)
    except MonitorError as exc:
        structlog.get_logger().debug("error", exc_info=True)
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    except OSError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    if isinstance(status, int):
        sys.exit(status)
