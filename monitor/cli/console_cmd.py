"""``lovelorn console``: the reviewers' web console, and ``console adduser`` for accounts."""

from __future__ import annotations

import errno
import os
import socket

import click

from monitor.cli.context import AppContext
from monitor.errors import ConfigError

_HINTS = {
    errno.EADDRINUSE: "another process listens there: stop it, or pick another with --port",
    errno.EACCES: "ports below 1024 need privileges: pick another with --port",
    errno.EADDRNOTAVAIL: "no interface of this machine has that address: check --host",
}


def _listen(host: str, port: int) -> socket.socket:
    """The console's listening socket, bound here rather than by uvicorn, which reports a
    busy port as its own ``ERROR: [Errno 98] …`` log line and exits 3: a bind failure is a
    ConfigError instead, printed as one ``error:`` line like every other."""
    where = f"cannot serve the console on {host}:{port}"
    try:
        family, _, _, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except socket.gaierror as exc:
        raise ConfigError(f"{where}: cannot resolve the host ({exc.strerror})") from None
    try:
        return socket.create_server(address, family=family)
    except OSError as exc:
        # os.strerror: create_server's own message repeats the address as a tuple
        why = os.strerror(exc.errno) if exc.errno else str(exc)
        hint = _HINTS.get(exc.errno or 0)
        raise ConfigError(f"{where}: {why}" + (f" ({hint})" if hint else "")) from None


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
    from monitor.console.reviewers import known_teams, load_reviewers, unknown_team

    app_ctx: AppContext = ctx.obj
    settings = app_ctx.services_settings(kafka=False)
    c = settings.console
    app = create_app(settings)  # refuses a missing secret key in one line
    reviewers = load_reviewers(settings)
    nobody = c.auth == "password" and not reviewers
    stray = sorted(
        f"{n} (team {u.team})" for n, u in reviewers.items() if unknown_team(settings, u.team)
    )
    host, port = host or c.host, port or c.port
    # proxy_headers: behind a reverse proxy on this machine (uvicorn trusts X-Forwarded-For
    # from FORWARDED_ALLOW_IPS only, 127.0.0.1 by default) the login throttle sees each
    # client's own address, not the proxy's, so one guesser cannot lock out everyone.
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host=host,
            port=port,
            log_level="warning",
            access_log=False,
            server_header=False,
            proxy_headers=True,
        )
    )
    with _listen(host, port) as sock:
        if nobody:  # said once listening, so a refusal stays the only line
            click.echo(
                "warning: no reviewers yet: add one with `lovelorn console adduser NAME`",
                err=True,
            )
        if stray:
            click.echo(
                f"warning: {', '.join(stray)} cannot log in: not a configured team "
                f"({', '.join(known_teams(settings))}; add it to console.teams)",
                err=True,
            )
        click.echo(f"console on http://{host}:{port} ({c.auth} login; Ctrl-C stops it)", err=True)
        server.run(sockets=[sock])


@console_group.command("adduser")
@click.argument("name")
@click.option(
    "--team",
    default="care",
    show_default=True,
    help="The reviewer's team (its own queue): an alert policy's name or one in console.teams.",
)
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@click.pass_obj
def adduser(app: AppContext, name: str, team: str, password_stdin: bool) -> None:
    """Add or update a reviewer in the users file (the password is stored as a scrypt hash)."""
    import sys

    from monitor.console.passwords import hash_password
    from monitor.console.reviewers import add_reviewer, unknown_team, users_file

    refused = unknown_team(app.settings, team)
    if refused:  # before the password prompt: a typo must not cost typing it twice
        raise click.BadParameter(refused, param_hint="--team")
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
