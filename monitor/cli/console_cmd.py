"""``lovelorn console``: the reviewers' web console, and ``console adduser`` for accounts."""

from __future__ import annotations

import click

from monitor.cli.context import AppContext


@click.group("console", invoke_without_command=True)
@click.option("--host", default=None, help="Address to bind (default: console.host, 127.0.0.1).")
@click.option(
    "--port",
    type=click.IntRange(1, 65535),
    default=None,
    help="Port (default: console.port, 8765).",
)
@click.pass_context
def console_group(ctx: click.Context, host: str | None, port: int | None) -> None:
    """Serve the review console (every page needs a login; see `console adduser`)."""
    if ctx.invoked_subcommand is not None:
        return
    import uvicorn

    from monitor.console.app import create_app
    from monitor.console.reviewers import load_reviewers

    app_ctx: AppContext = ctx.obj
    settings = app_ctx.services_settings(kafka=False)
    c = settings.console
    app = create_app(settings)  # refuses a missing secret key in one line
    if c.auth == "password" and not load_reviewers(settings):
        click.echo(
            "warning: no reviewers yet: add one with `lovelorn console adduser NAME`", err=True
        )
    where = f"http://{host or c.host}:{port or c.port}"
    click.echo(f"console on {where} ({c.auth} login; Ctrl-C stops it)", err=True)
    uvicorn.Server(
        uvicorn.Config(
            app,
            host=host or c.host,
            port=port or c.port,
            log_level="warning",
            access_log=False,
            server_header=False,
            proxy_headers=c.auth == "header",
        )
    ).run()


@console_group.command("adduser")
@click.argument("name")
@click.option(
    "--team", default="care", show_default=True, help="The reviewer's team (its own queue)."
)
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@click.pass_obj
def adduser(app: AppContext, name: str, team: str, password_stdin: bool) -> None:
    """Add or update a reviewer in the users file (the password is stored as a scrypt hash)."""
    import sys

    from monitor.console.passwords import hash_password
    from monitor.console.reviewers import add_reviewer, users_file

    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = click.prompt("password", hide_input=True, confirmation_prompt=True)
    if len(password) < 10:
        raise click.BadParameter("use at least 10 characters", param_hint="password")
    path = users_file(app.settings)
    add_reviewer(path, name, hash_password(password), team)
    click.echo(f"{name} (team {team}) saved in {path}")


COMMANDS = [console_group]
