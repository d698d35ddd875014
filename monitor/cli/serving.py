"""What ``lovelorn score`` and ``lovelorn poll`` share: the metrics endpoint and the exit
snapshot a supervisor reads (``LOVELORN_METRICS_SNAPSHOT``)."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

from monitor.cli.runner import run_until_signalled
from monitor.metrics import Metrics, MetricsServer
from monitor.settings import Settings

__all__ = ["SNAPSHOT_ENV", "exit_now", "serve_until_signalled", "snapshot_writer"]

SNAPSHOT_ENV = "LOVELORN_METRICS_SNAPSHOT"


def snapshot_writer(metrics: Metrics) -> Callable[[], None] | None:
    """Writes the metrics to the supervisor's snapshot file (when one is asked for): at each
    commit, so a child killed with SIGKILL leaves figures that match its committed work."""
    path = os.environ.get(SNAPSHOT_ENV)
    if not path:
        return None
    return lambda: metrics.write_snapshot(Path(path))


def serve_until_signalled(
    settings: Settings,
    metrics: Metrics,
    port: int,
    run: Callable[[asyncio.Event], Awaitable[None]],
    *,
    ready: Callable[[], bool],
    info: Callable[[], dict[str, object]] = dict,
) -> None:
    async def main(stop: asyncio.Event) -> None:
        try:
            async with MetricsServer(metrics, settings.metrics_host, port, ready=ready, info=info):
                await run(stop)
        finally:
            if snapshot := os.environ.get(SNAPSHOT_ENV):
                metrics.write_snapshot(Path(snapshot))

    run_until_signalled(main)


def exit_now(code: int = 0) -> None:
    """End a process that has drained and committed without waiting for the Paddle runtime's
    own teardown, which alone takes over a second on a busy machine (SIGTERM must be obeyed
    within 2 s). Everything of ours is closed by now; stdio is flushed first."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
