"""The deployment files stay valid and start (first-hour item 7): compose validates, its
settings are real settings, its cluster id is a KRaft cluster id, every volume a service
needs is populated or the service says what to do, and the build context stays small."""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from monitor.errors import ModelNotFound
from monitor.model import ModelRegistry, bundled_model_dir
from monitor.settings import load_settings

ROOT = Path(__file__).resolve().parent.parent


def test_example_settings_load() -> None:
    settings = load_settings(ROOT / "config" / "lovelorn.toml")
    assert [p.post_id for p in settings.weibo.posts] == ["5000000000000001"]
    assert [k.keyword for k in settings.weibo.keywords] == ["失恋"]
    assert settings.alerts.policies["care"].min_precision == 0.6
    assert settings.alerts.policies["ads"].min_precision == 0.8


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
    # every LOVELORN_* variable the compose file sets must be a real setting, with its value
    keys = {
        k: v
        for k, v in env.items()
        if k.startswith("LOVELORN_") and k != "LOVELORN_CONFIG" and "${" not in str(v)
    }
    old = {k: os.environ.get(k) for k in keys}
    try:
        os.environ.update({k: str(v) for k, v in keys.items()})
        settings = load_settings()
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    assert settings.kafka.bootstrap_servers == "kafka:9092" and settings.kafka.partitions == 6
    assert settings.kafka.enable_idempotence and settings.redis.url == "redis://redis:6379/0"
    assert settings.metrics_host == "0.0.0.0" and settings.log_format == "json"


def test_compose_kraft_cluster_id_is_a_base64_uuid() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    cluster_id = compose["services"]["kafka"]["environment"]["CLUSTER_ID"]
    assert len(cluster_id) == 22
    assert len(base64.urlsafe_b64decode(cluster_id + "==")) == 16


def test_every_volume_a_service_needs_is_populated(tmp_path: Path) -> None:
    """The scorer reads models from a fresh `models` volume: the registry seeds itself with the
    bundled model; the trainer reads training files from a mounted folder."""
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    scorer = compose["services"]["scorer"]
    assert "models:/data" in scorer["volumes"]
    fresh = ModelRegistry(tmp_path / "models", seed=bundled_model_dir())
    assert fresh.resolve("current") == "v1"
    assert (fresh.path("v1") / "inference.pdiparams").is_file()
    assert fresh.manifest("v1").provenance["data"]  # where the shipped model came from
    trainer = compose["services"]["trainer"]
    assert any(v.endswith(":/training-data:ro") for v in trainer["volumes"])
    assert "/training-data/" in (ROOT / "docker-compose.yml").read_text()
    assert ModelRegistry(tmp_path / "empty").versions() == []  # unseeded: says what to do
    with pytest.raises(ModelNotFound, match="run `lovelorn train`"):
        ModelRegistry(tmp_path / "empty").resolve("current")


def test_build_context_leaves_out_the_virtualenv_and_data() -> None:
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".venv/", ".git/", ".lovelorn/", "training-data/"} <= set(ignored)
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "COPY monitor monitor" in dockerfile  # the bundled model travels with the package


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
