"""``lovelorn run``: poller + scorer under one supervisor, with a live status line."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path

import click

from monitor.cli.context import AppContext
from monitor.cli.runner import run_until_signalled
from monitor.settings import Settings


@contextlib.contextmanager
def run_directory(home: Path) -> Iterator[Path]:
    """``home/run/<host>-<pid>``: this run's own exit snapshots, so two runs sharing a home
    never read each other's counts. It goes when the run ends; folders this host's runs
    left when they died hard (their pid is gone) go when the next run starts. Another
    host's folders are never touched: its pids mean nothing here."""
    parent = (home / "run").resolve()
    host = socket.gethostname()
    if parent.is_dir():
        for old in parent.glob(f"{host}-*"):
            pid = old.name.removeprefix(f"{host}-")
            if old.is_dir() and pid.isdigit() and not _running(int(pid)):
                shutil.rmtree(old, ignore_errors=True)
    folder = parent / f"{host}-{os.getpid()}"
    folder.mkdir(parents=True, exist_ok=True)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True


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
@click.option(
    "--speed", type=click.FloatRange(min=0), default=0.0, help="File replay speed factor."
)
@click.pass_obj
def run(
    app: AppContext,
    posts: tuple[str, ...],
    keywords: tuple[str, ...],
    from_file: Path | None,
    speed: float,
) -> None:
    """Continuous monitoring: fetch, score and alert until SIGTERM/SIGINT; children restart if they die."""
    from monitor.model import registry_for

    settings = app.services_settings()
    registry_for(settings).resolve(settings.scorer.model)  # fail now, not in a restart loop
    source = [f"--post={p}" for p in posts] + [f"--keyword={k}" for k in keywords]
    if from_file is not None:
        source = ["--from-file", str(from_file.resolve()), "--speed", str(speed)]
    elif not source and not (settings.weibo.posts or settings.weibo.keywords):
        raise click.UsageError(
            "nothing to watch: give --post/--keyword/--from-file or set weibo.posts / weibo.keywords"
        )
    env = {
        "LOVELORN_KAFKA__BOOTSTRAP_SERVERS": settings.kafka.bootstrap_servers or "",
        "LOVELORN_KAFKA__LAG_FROM_HIGHWATER": str(settings.kafka.lag_from_highwater).lower(),
        "LOVELORN_REDIS__URL": settings.redis.url or "",
        "LOVELORN_LOG_FORMAT": "json",
    }
    if app.config_file is not None:
        env["LOVELORN_CONFIG"] = str(app.config_file.resolve())
    with run_directory(settings.home) as run_dir:
        _supervise(settings, source, env, run_dir)


def _supervise(settings: Settings, source: list[str], env: dict[str, str], run_dir: Path) -> None:
    from monitor.bus import Consumer
    from monitor.bus.admin import prepare_topics
    from monitor.cli.serving import SNAPSHOT_ENV
    from monitor.retry import Stopped
    from monitor.store import AlertLog, Store
    from monitor.supervisor import Child, Supervisor

    # No transactional id of the run's own: exactly-once ids belong to input partitions and
    # share one prefix across the group (monitor.bus.transactions), so a restarted scorer
    # fences its killed predecessor — and every other member's zombie — by itself.
    scorer_env = {SNAPSHOT_ENV: str(run_dir / "scorer.metrics")}
    children = [
        Child(
            "poller",
            ["poll", *source],
            metrics_port=settings.weibo.metrics_port,
            env={SNAPSHOT_ENV: str(run_dir / "poller.metrics")},
            snapshot=run_dir / "poller.metrics",
        ),
        Child(
            "scorer",
            ["score"],
            metrics_port=settings.scorer.metrics_port,
            env=scorer_env,
            snapshot=run_dir / "scorer.metrics",
        ),
    ]
    host = "127.0.0.1" if settings.metrics_host in ("0.0.0.0", "::", "") else settings.metrics_host

    async def alerts_written() -> int:
        async with Store(settings.redis) as store:
            return await AlertLog(store).total_written()

    async def credentials() -> None:
        """Redis, and a Kafka that asks for credentials, still accept the children's."""
        async with Store(settings.redis) as store:
            await store.ping()
        if settings.kafka.security_protocol != "PLAINTEXT":
            async with Consumer(settings.kafka, group_id=None):
                pass

    supervisor = Supervisor(
        children, env=env, scrape_host=host, alerts_written=alerts_written, check=credentials
    )

    async def main(stop: asyncio.Event) -> None:
        """The topics first, from the settings (the children would create them too): a
        creation the broker refuses (a replication factor above its broker count) then ends
        the run with one line instead of failing both children in a restart loop."""
        try:
            await prepare_topics(settings.kafka, stop=stop)
        except Stopped:
            return
        await supervisor.run(stop)

    run_until_signalled(main)
    totals = supervisor.totals()
    click.echo(
        f"final: published {totals.published:.0f}, scored {totals.scored:.0f}, "
        f"alerts {totals.alerts:.0f}, dead letters {totals.dead_letters:.0f}, "
        f"restarts {sum(c.restarts for c in children)}"
    )


COMMANDS = [run]
