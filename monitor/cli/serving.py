"""What ``lovelorn score`` and ``lovelorn poll`` share: the metrics endpoint and the exit
snapshot a supervisor reads (``LOVELORN_METRICS_SNAPSHOT``)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from pathlib import Path

from monitor.cli.runner import run_until_signalled
from monitor.metrics import Metrics, MetricsServer
from monitor.settings import Settings

__all__ = ["SNAPSHOT_ENV", "serve_until_signalled"]

SNAPSHOT_ENV = "LOVELORN_METRICS_SNAPSHOT"


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
