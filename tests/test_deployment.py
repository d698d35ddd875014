"""The deployment files stay valid: compose validates, the example settings load."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from monitor.settings import load_settings

ROOT = Path(__file__).resolve().parent.parent


def test_example_settings_load() -> None:
    settings = load_settings(ROOT / "config" / "lovelorn.toml")
    assert settings.weibo.posts and settings.weibo.keywords
    assert settings.alerts.policies["care"].min_precision == 0.6


def test_compose_services_and_settings() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert {"kafka", "redis", "poller", "scorer", "scorer-cpu", "trainer"} <= set(
        compose["services"]
    )
    assert "--appendonly" in compose["services"]["redis"]["command"]
    assert compose["services"]["scorer"]["deploy"]["resources"]["reservations"]["devices"][0][
        "capabilities"
    ] == ["gpu"]
    env = compose["x-lovelorn"]["environment"]
    # every LOVELORN_* variable the compose file sets must be a real setting
    keys = {
        k: v
        for k, v in env.items()
        if k.startswith("LOVELORN_") and k != "LOVELORN_CONFIG" and "${" not in str(v)
    }
    old = {k: os.environ.get(k) for k in keys}
    try:
        os.environ.update({k: str(v) for k, v in keys.items()})
        load_settings()
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@pytest.mark.skipif(
    shutil.which("docker-compose") is None,
    reason="docker-compose not installed (apt-get install docker-compose)",
)
def test_compose_config_validates() -> None:
    result = subprocess.run(
        ["docker-compose", "config", "-q"],
        cwd=ROOT,
        env={**os.environ, "REDIS_PASSWORD": "x"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
