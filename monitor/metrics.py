"""Prometheus metrics (one registry per process object, no module-level globals) and the
small HTTP endpoint that serves them with health and readiness.

Components take a ``Metrics`` and register what they measure. ``MetricsServer`` runs on
the service's own event loop: ``/metrics`` for Prometheus, ``/healthz`` answers while the
loop is alive, ``/readyz`` answers 200 once the service says it is ready (the scorer has
partitions and a model; the poller is connected to the broker), 503 before.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Self

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

__all__ = ["Metrics", "MetricsServer"]

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
_BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)


class Metrics:
    def __init__(
        self, registry: CollectorRegistry | None = None, namespace: str = "lovelorn"
    ) -> None:
        self.registry = registry or CollectorRegistry()
        self.namespace = namespace

    def counter(self, name: str, doc: str, labels: tuple[str, ...] = ()) -> Counter:
        return self._get(name) or Counter(
            name, doc, labels, namespace=self.namespace, registry=self.registry
        )

    def gauge(self, name: str, doc: str, labels: tuple[str, ...] = ()) -> Gauge:
        return self._get(name) or Gauge(
            name, doc, labels, namespace=self.namespace, registry=self.registry
        )

    def latency(self, name: str, doc: str, labels: tuple[str, ...] = ()) -> Histogram:
        return self._get(name) or Histogram(
            name,
            doc,
            labels,
            namespace=self.namespace,
            registry=self.registry,
            buckets=_LATENCY_BUCKETS,
        )

    def sizes(self, name: str, doc: str) -> Histogram:
        return self._get(name) or Histogram(
            name, doc, namespace=self.namespace, registry=self.registry, buckets=_BATCH_BUCKETS
        )

    def value(self, name: str, **labels: str) -> float:
        """Current value of a sample, 0 if never set (for tests and the status line)."""
        return self.registry.get_sample_value(f"{self.namespace}_{name}", labels or None) or 0.0

    def render(self) -> bytes:
        return generate_latest(self.registry)

    def write_snapshot(self, path: Path) -> None:
        """The exposition text in a file (replaced atomically), for a supervisor that must
        not lose a child's counts when the child dies between two scrapes."""
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_bytes(self.render())
        tmp.replace(path)

    def _get(self, name: str):  # type: ignore[no-untyped-def]
        # Registering the same name twice raises; components that share a Metrics reuse it.
        return self.registry._names_to_collectors.get(f"{self.namespace}_{name}")


class MetricsServer:
    def __init__(
        self,
        metrics: Metrics,
        host: str,
        port: int,
        *,
        ready: Callable[[], bool] = lambda: True,
        info: Callable[[], dict[str, object]] = dict,
    ) -> None:
        self._metrics = metrics
        self._host = host
        self._port = port
        self._ready = ready
        self._info = info
        self._server: asyncio.Server | None = None

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    async def __aenter__(self) -> Self:
        if self._port:
            self._server = await asyncio.start_server(self._handle, self._host, self._port)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 1.0)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await asyncio.wait_for(reader.readline(), 5.0)
            while (await asyncio.wait_for(reader.readline(), 5.0)) not in (b"\r\n", b"\n", b""):
                pass
            parts = request.decode("latin-1").split()
            path = parts[1].split("?")[0] if len(parts) > 1 else "/"
            status, body, kind = self._route(path)
            head = (
                f"HTTP/1.1 {status}\r\nContent-Type: {kind}\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
            )
            writer.write(head.encode() + body)
            await writer.drain()
        except (TimeoutError, ConnectionError):
            pass
        finally:
            writer.close()

    def _route(self, path: str) -> tuple[str, bytes, str]:
        if path == "/metrics":
            return "200 OK", self._metrics.render(), CONTENT_TYPE_LATEST
        if path == "/healthz":
            return "200 OK", b'{"status": "alive"}', "application/json"
        if path == "/readyz":
            ready = self._ready()
            body = json.dumps({"ready": ready, **self._info()}).encode()
            return ("200 OK" if ready else "503 Service Unavailable"), body, "application/json"
        return "404 Not Found", b"not found: try /metrics, /healthz or /readyz", "text/plain"
