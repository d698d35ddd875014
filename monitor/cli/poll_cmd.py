"""``lovelorn poll``: Weibo targets from settings or options, or a comment file to replay."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from monitor.cli.context import AppContext


@click.command("poll")
@click.option("--post", "posts", multiple=True, help="Post id (mid) to watch; repeatable.")
@click.option("--keyword", "keywords", multiple=True, help="Search keyword to watch; repeatable.")
@click.option(
    "--interval",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="Seconds between polls of each target given here.",
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
    type=click.FloatRange(min=0),
    default=0.0,
    show_default=True,
    help="File replay: original timing × speed (0 = flat out).",
)
@click.option(
    "--metrics-port",
    type=click.IntRange(0, 65535),
    default=None,
    help="Serve /metrics, /healthz and /readyz on this port (default: weibo.metrics_port).",
)
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
    from monitor.bus.admin import prepare_topics
    from monitor.cli.serving import serve_until_signalled, snapshot_writer
    from monitor.metrics import Metrics
    from monitor.retry import Stopped
    from monitor.sources.poller import Target
    from monitor.sources.service import PollerService

    settings = app.services_settings()
    metrics = Metrics()
    weibo = settings.weibo
    targets = None
    if posts or keywords:
        targets = [Target("post", p, interval or 300.0, weibo.max_pages) for p in posts]
        targets += [Target("keyword", k, interval or 600.0, 2) for k in keywords]
    service = PollerService(
        settings, metrics=metrics, targets=targets, after_publish=snapshot_writer(metrics)
    )
    result: dict[str, int] = {}

    async def run(stop):  # type: ignore[no-untyped-def]
        try:
            # before the producer can make the broker auto-create them with one partition
            await prepare_topics(settings.kafka, stop=stop, warn_narrow=False)
            if from_file is None:
                await service.run(stop)
            else:
                result.update(
                    await service.replay(
                        from_file, speed=speed, stop=stop, progress=sys.stderr.isatty()
                    )
                )
        except Stopped:  # stopped while waiting for the broker
            pass

    serve_until_signalled(
        settings,
        metrics,
        metrics_port if metrics_port is not None else weibo.metrics_port,
        run,
        ready=service.ready.is_set,
    )
    if from_file is not None:  # exit 0 with bad lines: they are in the dead-letter topic
        bad = result.get("bad", 0)
        click.echo(
            f"read {result.get('read', 0)}, published {result.get('published', 0)} new, "
            f"{bad} unreadable"
            + (f" (dead-lettered to {settings.kafka.dead_letter_topic})" if bad else "")
        )


COMMANDS = [poll]
