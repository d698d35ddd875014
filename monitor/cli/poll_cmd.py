"""``lovelorn poll``: Weibo targets from settings or options, or a comment file to replay."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from monitor.cli.context import AppContext
from monitor.cli.runner import run_until_signalled


@click.command("poll")
@click.option("--post", "posts", multiple=True, help="Post id (mid) to watch; repeatable.")
@click.option("--keyword", "keywords", multiple=True, help="Search keyword to watch; repeatable.")
@click.option(
    "--interval", type=float, default=None, help="Seconds between polls of each target given here."
)
@click.option(
    "--from-file",
    "from_file",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Replay a JSONL/CSV comment file instead of polling Weibo.",
)
@click.option(
    "--speed",
    type=float,
    default=0.0,
    show_default=True,
    help="File replay: original timing × speed (0 = flat out).",
)
@click.option("--metrics-port", type=int, default=None)
@click.pass_obj
def poll(
    app: AppContext,
    posts: tuple[str, ...],
    keywords: tuple[str, ...],
    interval: float | None,
    from_file: Path | None,
    speed: float,
    metrics_port: int | None,
) -> None:
    """Fetch comments and publish them to Kafka (deduplicated, resumable) until stopped."""
    from monitor.metrics import Metrics
    from monitor.sources.poller import Target
    from monitor.sources.service import PollerService

    settings = app.services_settings()
    metrics = Metrics()
    if metrics_port:
        metrics.serve(metrics_port)
    weibo = settings.weibo
    targets = None
    if posts or keywords:
        targets = [Target("post", p, interval or 300.0, weibo.max_pages) for p in posts]
        targets += [Target("keyword", k, interval or 600.0, 2) for k in keywords]
    service = PollerService(settings, metrics=metrics, targets=targets)
    if from_file is not None:
        result: dict[str, int] = {}

        async def replay(stop):  # type: ignore[no-untyped-def]
            result.update(
                await service.replay(
                    from_file, speed=speed, stop=stop, progress=sys.stderr.isatty()
                )
            )

        run_until_signalled(replay)
        click.echo(
            f"read {result.get('read', 0)}, published {result.get('published', 0)} new, "
            f"{result.get('bad', 0)} unreadable"
        )
        return
    run_until_signalled(service.run)


COMMANDS = [poll]
