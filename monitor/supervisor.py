"""``lovelorn run``: the poller and the scorer as child processes under one supervisor.

Separate processes so a crash in one (a native fault in the inference library, say) does
not take the other down; a child that dies is restarted with backoff, one that exits 0 has
finished its work (a file replay) and stays down, and SIGTERM stops both gracefully (each
drains and commits). A child that failed is restarted only if its credentials still work:
a refused password ends the run with that error, as no restart can fix a setting.

Children die with the supervisor: on Linux the kernel SIGKILLs them when it dies, even by
SIGKILL or the OOM killer (nobody would be left to escalate a SIGTERM that hangs), so no
scorer lingers as a zombie group member with an old model.

The status adds up each child's counters over all its lives: a restarted child starts
counting from zero, so what an earlier life counted is kept, and a child's last counts come
from the snapshot it writes as it exits (a scrape could be a second old). Parsing the
children's metrics lives in ``monitor.status_counts``, the line in ``monitor.status_line``.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import structlog

from monitor.embedded.processes import die_with_this_process, free_port
from monitor.errors import MonitorError
from monitor.retry import Retry, Stopped
from monitor.status_counts import Counts, parse_counts
from monitor.status_line import report_status, status_line

__all__ = ["Child", "Counts", "Supervisor", "parse_counts"]

log = structlog.get_logger()
STOP_TIMEOUT_S = 40.0
CHECK_TIMEOUT_S = 10.0


class ChildCrashed(MonitorError):
    retriable = True


@dataclass
class Child:
    name: str
    args: list[str]
    metrics_port: int = 0
    env: dict[str, str] = field(default_factory=dict)
    snapshot: Path | None = None
    process: asyncio.subprocess.Process | None = None
    restarts: int = 0
    earlier: Counts = field(default_factory=Counts)  # all finished lives
    current: Counts = field(default_factory=Counts)  # the running life's last scrape

    def __post_init__(self) -> None:
        self.metrics_port = self.metrics_port or free_port()

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

    @property
    def totals(self) -> Counts:
        return self.earlier + self.current

    def life_ended(self) -> None:
        """Fold the life's counts into ``earlier``: the exit snapshot when there is one."""
        final = self.current
        if self.snapshot is not None and self.snapshot.is_file():
            final = parse_counts(self.snapshot.read_text())
            self.snapshot.unlink()
        final.lag = 0.0
        self.earlier = self.earlier + final
        self.current = Counts()


class Supervisor:
    def __init__(
        self,
        children: list[Child],
        *,
        env: dict[str, str] | None = None,
        status_every_s: float = 1.0,
        scrape_host: str = "127.0.0.1",
        alerts_written: Callable[[], Awaitable[int]] | None = None,
        check: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        """``alerts_written`` reads the alert store's own count of distinct alerts: the
        truth even when a scorer dies and its successor re-scores the uncommitted tail.
        ``check`` tries the children's credentials (raising a non-retriable MonitorError
        when they are refused): before the first start and after each failed life."""
        self.children = children
        self._env = {**os.environ, **(env or {})}
        self._status_every_s = status_every_s
        self._scrape_host = scrape_host
        self._alerts_written = alerts_written
        self._alerts_base: int | None = None
        self._alerts_now: int | None = None
        self._check = check
        self._fatal: MonitorError | None = None

    def totals(self) -> Counts:
        total = Counts()
        for child in self.children:
            total = total + child.totals
        if self._alerts_base is not None and self._alerts_now is not None:
            total.alerts = float(self._alerts_now - self._alerts_base)
        return total

    async def _read_alerts(self) -> None:
        if self._alerts_written is None:
            return
        try:
            value = await asyncio.wait_for(self._alerts_written(), 2.0)
        except (MonitorError, TimeoutError):
            return  # the store is away: keep the last reading
        if self._alerts_base is None:
            self._alerts_base = value
        self._alerts_now = value

    async def _check_credentials(self) -> None:
        """Raise what refused the credentials; an outage (retriable) or a check that hangs
        passes, because the children wait those out on their own."""
        if self._check is None:
            return
        try:
            await asyncio.wait_for(self._check(), CHECK_TIMEOUT_S)
        except MonitorError as exc:
            if not exc.retriable:
                raise
        except Exception as exc:  # a hang or a fault of the check: no verdict on credentials
            log.warning("credentials_check_failed", error=repr(exc))

    async def run(self, stop: asyncio.Event) -> None:
        """Until ``stop`` is set, or a refused credential ends the run: that error is raised
        once every child has stopped."""
        await self._check_credentials()  # refused now: nothing started, nothing to stop
        await self._read_alerts()
        watchers = [
            asyncio.create_task(self._keep_alive(child, stop), name=child.name)
            for child in self.children
        ]
        status = asyncio.create_task(report_status(self, stop, self._status_every_s))
        try:
            await stop.wait()
        finally:
            status.cancel()
            await asyncio.gather(status, return_exceptions=True)
            await asyncio.gather(*(self._terminate(c) for c in self.children))
            for task in watchers:
                task.cancel()
            await asyncio.gather(*watchers, return_exceptions=True)
            for child in self.children:
                if child.process is not None and child.process.returncode is not None:
                    child.life_ended()
                    child.process = None
            await self._read_alerts()
            if sys.stdout.isatty():
                sys.stdout.write("\n")
            log.info("final", line=status_line(self.totals(), None, 0.0, self.restarts))
        if self._fatal is not None:
            raise self._fatal

    async def _keep_alive(self, child: Child, stop: asyncio.Event) -> None:
        retry = Retry(
            f"{child.name} process", base_s=1.0, cap_s=30.0, retry_on=(ChildCrashed,), quiet=True
        )

        def restarted(exc: Exception) -> None:
            child.restarts += 1
            log.warning("child_exited", child=child.name, error=str(exc), restarts=child.restarts)

        try:
            await retry.call(lambda: self._life(child, stop), stop=stop, on_failure=restarted)
        except Stopped:
            pass
        except MonitorError as exc:  # not retriable: a refused credential
            self._fatal = self._fatal or exc
            stop.set()

    async def _life(self, child: Child, stop: asyncio.Event) -> None:
        """One run of the child; ChildCrashed unless it finished (exit 0) or we are stopping,
        or the refused credential that explains the failure."""
        if child.snapshot is not None:
            child.snapshot.unlink(missing_ok=True)
        child.process = await asyncio.create_subprocess_exec(
            *child.command,
            env={**self._env, **child.env},
            start_new_session=True,  # a Ctrl-C reaches only us: we stop the children in order
            preexec_fn=die_with_this_process(),  # forked by the loop's thread, which is ours
        )
        log.info("child_started", child=child.name, pid=child.process.pid)
        code = await child.process.wait()
        child.life_ended()
        child.process = None
        if code == 0:
            log.info("child_finished", child=child.name)
            return
        if not stop.is_set():
            await self._check_credentials()
            raise ChildCrashed(f"{child.name} exited with status {code}")

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

    @property
    def restarts(self) -> int:
        return sum(c.restarts for c in self.children)

    async def scrape(self, client: httpx.AsyncClient) -> Counts:
        await self._read_alerts()
        for child in self.children:
            if child.process is None:
                continue
            try:
                response = await client.get(
                    f"http://{self._scrape_host}:{child.metrics_port}/metrics", timeout=1.0
                )
            except httpx.HTTPError:
                continue
            if child.process is not None:  # the life may have ended while we waited
                child.current = parse_counts(response.text)
        return self.totals()
