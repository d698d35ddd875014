"""``lovelorn run``: the poller and the scorer as child processes under one supervisor.

Separate processes so a crash in one (a native fault in the inference library, say) does
not take the other down; the supervisor restarts a child that dies, with backoff, and on
SIGTERM/SIGINT stops both gracefully (each drains and commits). A child that exits 0 has
finished (a file replay) and is not restarted. Each child serves its
Prometheus metrics on a loopback port; the supervisor reads them for the status line.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
from dataclasses import dataclass, field

import httpx
import structlog
from prometheus_client.parser import text_string_to_metric_families

from monitor.embedded import free_port
from monitor.retry import Backoff

__all__ = ["Child", "Status", "Supervisor"]

log = structlog.get_logger()
STOP_TIMEOUT_S = 40.0


@dataclass
class Child:
    name: str
    args: list[str]
    metrics_port: int = field(default_factory=free_port)
    process: asyncio.subprocess.Process | None = None
    restarts: int = 0

    @property
    def command(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            "monitor",
            *self.args,
            "--metrics-port",
            str(self.metrics_port),
        ]


@dataclass
class Status:
    published: float = 0.0
    scored: float = 0.0
    batches: float = 0.0
    batch_sum: float = 0.0
    alerts: float = 0.0
    lag: float = 0.0
    dead_letters: float = 0.0


class Supervisor:
    def __init__(
        self,
        children: list[Child],
        *,
        env: dict[str, str] | None = None,
        status_every_s: float = 1.0,
    ) -> None:
        self.children = children
        self._env = {**os.environ, **(env or {})}
        self._status_every_s = status_every_s

    async def run(self, stop: asyncio.Event) -> None:
        watchers = [
            asyncio.create_task(self._keep_alive(child, stop), name=child.name)
            for child in self.children
        ]
        status = asyncio.create_task(self._report(stop))
        try:
            await stop.wait()
        finally:
            status.cancel()
            await asyncio.gather(status, return_exceptions=True)
            await asyncio.gather(*(self._terminate(c) for c in self.children))
            for task in watchers:
                task.cancel()
            await asyncio.gather(*watchers, return_exceptions=True)
            if sys.stdout.isatty():
                sys.stdout.write("\n")

    async def _keep_alive(self, child: Child, stop: asyncio.Event) -> None:
        backoff = Backoff(1.0, 30.0)
        while not stop.is_set():
            child.process = await asyncio.create_subprocess_exec(
                *child.command, env=self._env, start_new_session=True
            )
            started = time.monotonic()
            log.info("child_started", child=child.name, pid=child.process.pid)
            code = await child.process.wait()
            if stop.is_set():
                return
            if code == 0:  # finished its work (a file replay), not a crash
                log.info("child_finished", child=child.name)
                return
            if time.monotonic() - started > 60:
                backoff.reset()
            delay = backoff.next()
            child.restarts += 1
            log.warning(
                "child_exited",
                child=child.name,
                code=code,
                restart_in_s=delay,
                restarts=child.restarts,
            )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=delay)

    async def _terminate(self, child: Child) -> None:
        process = child.process
        if process is None or process.returncode is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), STOP_TIMEOUT_S)
        except TimeoutError:
            log.warning("child_killed", child=child.name, after_s=STOP_TIMEOUT_S)
            process.kill()
            await process.wait()

    async def scrape(self, client: httpx.AsyncClient) -> Status:
        status = Status()
        for child in self.children:
            try:
                response = await client.get(
                    f"http://127.0.0.1:{child.metrics_port}/metrics", timeout=1.0
                )
            except httpx.HTTPError:
                continue
            for family in text_string_to_metric_families(response.text):
                for sample in family.samples:
                    name, labels, value = sample.name, sample.labels, sample.value
                    if name == "lovelorn_comments_published_total":
                        status.published += value
                    elif name == "lovelorn_comments_scored_total":
                        status.scored += value
                    elif name == "lovelorn_batch_size_count":
                        status.batches += value
                    elif name == "lovelorn_batch_size_sum":
                        status.batch_sum += value
                    elif (
                        name == "lovelorn_alerts_total"
                        and labels.get("sink") == "redis"
                        and labels.get("outcome") == "written"
                    ):
                        status.alerts += value
                    elif name == "lovelorn_lag":
                        status.lag += value
                    elif name == "lovelorn_dead_letters_total":
                        status.dead_letters += value
        return status

    async def _report(self, stop: asyncio.Event) -> None:
        tty = sys.stdout.isatty()
        previous, previous_t = Status(), time.monotonic()
        last_log = 0.0
        async with httpx.AsyncClient() as client:
            while not stop.is_set():
                await asyncio.sleep(self._status_every_s)
                now, current = time.monotonic(), await self.scrape(client)
                dt = max(now - previous_t, 1e-6)
                batches = current.batches - previous.batches
                line = (
                    f"published {current.published:.0f} ({(current.published - previous.published) / dt:.1f}/s)  "
                    f"scored {current.scored:.0f} ({(current.scored - previous.scored) / dt:.1f}/s)  "
                    f"batch {((current.batch_sum - previous.batch_sum) / batches) if batches else 0:.1f}  "
                    f"lag {current.lag:.0f}  alerts {current.alerts:.0f}  dead letters {current.dead_letters:.0f}  "
                    f"restarts {sum(c.restarts for c in self.children)}"
                )
                if tty:
                    sys.stdout.write("\r\033[K" + line)
                    sys.stdout.flush()
                elif now - last_log >= 10:
                    log.info("status", line=line)
                    last_log = now
                previous, previous_t = current, now
