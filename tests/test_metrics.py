"""MetricsServer on a free loopback port: metrics, liveness, readiness and unknown paths."""

from __future__ import annotations

import httpx
import pytest

from monitor.embedded import free_port
from monitor.metrics import Metrics, MetricsServer

pytestmark = pytest.mark.unit  # the fast layer: no broker, Redis, Paddle or network


async def test_serves_metrics_health_and_readiness() -> None:
    metrics = Metrics()
    metrics.counter("hits", "Requests seen").inc(3)
    ready = [False]
    server = MetricsServer(
        metrics, "127.0.0.1", free_port(), ready=lambda: ready[0], info=lambda: {"model": "v2"}
    )
    async with (
        server,
        httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{server.port}", trust_env=False, timeout=5
        ) as client,
    ):
        response = await client.get("/metrics")
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/plain")
        assert "lovelorn_hits_total 3.0" in response.text.splitlines()

        response = await client.get("/healthz")
        assert (response.status_code, response.json()) == (200, {"status": "alive"})

        response = await client.get("/readyz")
        assert (response.status_code, response.json()) == (503, {"ready": False, "model": "v2"})
        ready[0] = True
        response = await client.get("/readyz?verbose=1")  # the query string is ignored
        assert (response.status_code, response.json()) == (200, {"ready": True, "model": "v2"})

        for path in ("/", "/metricsx", "/readyz/extra"):
            response = await client.get(path)
            assert response.status_code == 404, path
            assert "try /metrics" in response.text

        metrics.counter("hits", "Requests seen").inc()  # the same counter, registered once
        assert "lovelorn_hits_total 4.0" in (await client.get("/metrics")).text.splitlines()


async def test_port_zero_means_no_server() -> None:
    async with MetricsServer(Metrics(), "127.0.0.1", 0) as server:
        with pytest.raises(AssertionError):
            _ = server.port  # nothing listens, so there is no port to report
