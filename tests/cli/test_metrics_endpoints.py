"""The scorer's metrics endpoint as Prometheus and an orchestrator use it (first-hour item 6):
the bind address comes from settings, and /healthz, /readyz and the model version are served."""

from __future__ import annotations

import time
from pathlib import Path

import httpx

from monitor.embedded import free_port
from monitor.settings import Settings
from tests.fixtures import copy_home, scorer_env, scorer_settings, start_cli


def _listening(port: int) -> set[str]:
    """Local addresses listening on ``port`` (from /proc/net/tcp: hex ip:port, state 0A)."""
    found = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, state = line.split()[1], line.split()[3]
        address, hex_port = local.split(":")
        if state == "0A" and int(hex_port, 16) == port:
            found.add(".".join(str(int(address[i : i + 2], 16)) for i in (6, 4, 2, 0)))
    return found


def test_score_serves_metrics_health_and_readiness_on_the_configured_host(
    stack: Settings, tiny_home: Path, tmp_path: Path
) -> None:
    settings = scorer_settings(stack, copy_home(tiny_home, tmp_path))
    port = free_port()
    env = scorer_env(settings) | {"LOVELORN_METRICS_HOST": "0.0.0.0"}
    log = tmp_path / "score.log"
    process = start_cli(["score", "--metrics-port", str(port)], env, log)
    try:
        deadline = time.monotonic() + 90
        ready = None
        while time.monotonic() < deadline:
            assert process.poll() is None, log.read_text()
            try:
                ready = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2)
            except httpx.HTTPError:
                ready = None
            if ready is not None and ready.status_code == 200:
                break
            time.sleep(0.3)
        assert ready is not None and ready.json() == {"ready": True, "model": "v1"}, log.read_text()
        assert _listening(port) == {"0.0.0.0"}  # reachable from another container
        assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200
        exposed = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text
        assert 'lovelorn_model_info{version="v1"} 1.0' in exposed
        assert "lovelorn_records_in_total" in exposed
    finally:
        process.terminate()
        process.wait(timeout=30)
