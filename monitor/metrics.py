"""Prometheus metrics, one registry per process object (no module-level globals).

Components take a ``Metrics`` and register what they measure; ``serve()`` exposes it.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

__all__ = ["Metrics"]

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

    def serve(self, port: int, addr: str = "127.0.0.1") -> None:
        start_http_server(port, addr=addr, registry=self.registry)

    def _get(self, name: str):  # type: ignore[no-untyped-def]
        # Registering the same name twice raises; components that share a Metrics reuse it.
        return self.registry._names_to_collectors.get(f"{self.namespace}_{name}")
