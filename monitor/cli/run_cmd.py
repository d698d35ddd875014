"""``lovelorn run``: poller + scorer under one supervisor, with a live status line."""

from __future__ import annotations

from pathlib import Path

import click

from monitor.cli.context import AppContext
from monitor.cli.runner import run_until_signalled


@click.command("run")
@click.option(
    "--post", "posts", multiple=True, help="Post id to watch (else weibo.posts from settings)."
)
@click.option(
    "--keyword", "keywords", multiple=True, help="Keyword to watch (else weibo.keywords)."
)
@click.option(
    "--from-file",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    default=None,
    help="Feed a comment file instead of polling Weibo.",
)
@click.option("--speed", type=float, default=0.0, help="File replay speed factor.")
@click.pass_obj
def run(
    app: AppContext,
    posts: tuple[str, ...],
    keywords: tuple[str, ...],
    from_file: Path | None,
    speed: float,
) -> None:
    """Continuous monitoring: fetch, score and alert until SIGTERM/SIGINT; children restart if they die."""
    from monitor.registry import ModelRegistry
    from monitor.supervisor import Child, Supervisor

    settings = app.services_settings()
    ModelRegistry(settings.registry_root).resolve(
        settings.scorer.model
    )  # fail now, not in a restart loop
    source = [f"--post={p}" for p in posts] + [f"--keyword={k}" for k in keywords]
    if from_file is not None:
        source = ["--from-file", str(from_file.resolve()), "--speed", str(speed)]
    elif not source and not (settings.weibo.posts or settings.weibo.keywords):
        raise click.UsageError(
            "nothing to watch: give --post/--keyword/--from-file or set weibo.posts / weibo.keywords"
        )
    env = {
        "LOVELORN_KAFKA__BOOTSTRAP_SERVERS": settings.kafka.bootstrap_servers or "",
        "LOVELORN_REDIS__URL": settings.redis.url or "",
        "LOVELORN_LOG_FORMAT": "json",
    }
    if app.config_file is not None:
        env["LOVELORN_CONFIG"] = str(app.config_file.resolve())
    supervisor = Supervisor(
        [Child("poller", ["poll", *source]), Child("scorer", ["score"])], env=env
    )
    run_until_signalled(supervisor.run)


COMMANDS = [run]
