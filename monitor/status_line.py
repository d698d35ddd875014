"""The status line of ``lovelorn run``: counts and rates, redrawn in place on a terminal and
logged every ``LOG_EVERY_S`` (with rates over that window) when the output is a log."""

from __future__ import annotations

import asyncio
import sys
import time
from typing import Protocol

import httpx
import structlog

from monitor.status_counts import Counts

__all__ = ["LOG_EVERY_S", "report_status", "status_line"]

log = structlog.get_logger()
LOG_EVERY_S = 10.0


class Scraped(Protocol):
    restarts: int

    async def scrape(self, client: httpx.AsyncClient) -> Counts: ...


def status_line(now: Counts, before: Counts | None, seconds: float, restarts: int) -> str:
    """Totals, with per-second rates against ``before`` when there is a window."""

    def rate(field_name: str) -> str:
        if before is None or seconds <= 0:
            return ""
        return f" ({(getattr(now, field_name) - getattr(before, field_name)) / seconds:.1f}/s)"

    batches = now.batches - (before.batches if before else 0)
    batch_sum = now.batch_sum - (before.batch_sum if before else 0)
    return (
        f"published {now.published:.0f}{rate('published')}  "
        f"scored {now.scored:.0f}{rate('scored')}  "
        f"batch {batch_sum / batches if batches else 0:.1f}  lag {now.lag:.0f}  "
        f"alerts {now.alerts:.0f}  dead letters {now.dead_letters:.0f}  "
        f"restarts {restarts}"
    )


async def report_status(run: Scraped, stop: asyncio.Event, every_s: float) -> None:
    """Until ``stop``: scrape every ``every_s`` and show the line."""
    tty = sys.stdout.isatty()
    previous, previous_t = Counts(), time.monotonic()
    logged, logged_t = Counts(), time.monotonic()
    async with httpx.AsyncClient() as client:
        while not stop.is_set():
            await asyncio.sleep(every_s)
            now, current = time.monotonic(), await run.scrape(client)
            if tty:
                line = status_line(current, previous, now - previous_t, run.restarts)
                sys.stdout.write("\r\033[K" + line)
                sys.stdout.flush()
            elif now - logged_t >= LOG_EVERY_S:  # rates over the whole logging window
                line = status_line(current, logged, now - logged_t, run.restarts)
                log.info("status", line=line)
                logged, logged_t = current, now
            previous, previous_t = current, now
