"""The deployment files stay valid and start (first-hour item 7): compose validates, its
settings are real settings, its cluster id is a KRaft cluster id, every volume a service
needs is populated or the service says what to do, and the build context stays small.

Compose that matches production (issue 28, item 7): the review console is a service with its
key from a compose secret; docker-compose.cluster.yml makes Kafka three KRaft nodes with
replication factor 3 and min ISR 2; Redis fsyncs every write, as documented."""

from __future__ import annotations

import base64
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from monitor.console.access import PUBLIC
from monitor.errors import ModelNotFound
from monitor.model import ModelRegistry, bundled_model_dir
from monitor.settings import Settings, load_settings
from tests.kafka.compose_env import to_properties

ROOT = Path(__file__).resolve().parent.parent
CLUSTER = "docker-compose.cluster.yml"


def _yaml(name: str) -> dict[str, Any]:
    return yaml.safe_load((ROOT / name).read_text())


def _settings_from(env: dict[str, Any]) -> Settings:
    """The settings a container with these LOVELORN_* variables loads (the file aside)."""
    keys = {
        k: str(v)
        for k, v in env.items()
        if k.startswith("LOVELORN_") and k != "LOVELORN_CONFIG" and "${" not in str(v)
    }
    old = {k: os.environ.get(k) for k in keys}
    try:
        os.environ.update(keys)
        return load_settings()
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


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
    # every LOVELORN_* variable the compose file sets must be a real setting, with its value
    settings = _settings_from(compose["x-lovelorn"]["environment"])
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


needs_compose = pytest.mark.skipif(
    shutil.which("docker-compose") is None,
    reason="docker-compose not installed (apt-get install docker-compose)",
)


def _compose_config(*files: str, quiet: bool = False) -> subprocess.CompletedProcess[str]:
    args = [a for f in files for a in ("-f", f)]
    return subprocess.run(
        ["docker-compose", *args, "config", *(["-q"] if quiet else [])],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


@needs_compose
@pytest.mark.parametrize("files", [("docker-compose.yml",), ("docker-compose.yml", CLUSTER)])
def test_compose_config_validates(files: tuple[str, ...]) -> None:
    result = _compose_config(*files, quiet=True)
    assert result.returncode == 0, result.stderr


def test_the_console_is_a_service_with_its_key_from_a_secret() -> None:
    compose = _yaml("docker-compose.yml")
    console = compose["services"]["console"]
    assert console["command"][:3] == ["console", "--host", "0.0.0.0"]
    port = console["command"][console["command"].index("--port") + 1]
    assert set(console["secrets"]) == {"redis_password", "console_secret_key"}
    assert compose["secrets"]["console_secret_key"]["file"] == "./secrets/console_secret_key"
    # the key enters the process at start, from the secret (tests/test_compose_secrets.py runs
    # this entrypoint); no container's configuration holds it
    assert "/run/secrets/console_secret_key" in console["entrypoint"][2]
    assert "LOVELORN_CONSOLE__SECRET_KEY" in console["entrypoint"][2]
    for name, service in compose["services"].items():
        assert "LOVELORN_CONSOLE__SECRET_KEY" not in (service.get("environment") or {}), name
    # it reads Redis, not Kafka: it waits for a healthy Redis only
    assert console["depends_on"] == {"redis": {"condition": "service_healthy"}}
    # its health check asks its own port for the one page served without a login
    check = console["healthcheck"]["test"]
    assert check[0] == "CMD" and "/login" in check[-1] and "CONSOLE_PORT" in check[-1]
    assert console["environment"]["CONSOLE_PORT"] == port
    assert console["ports"] == [f"127.0.0.1:{port}:{port}"]
    assert "/login" in PUBLIC
    # its settings are real settings, and the key it reads is the console's secret_key
    settings = _settings_from({**console["environment"], "LOVELORN_CONSOLE__SECRET_KEY": "k" * 32})
    assert settings.console.secret_key is not None
    assert settings.console.secret_key.get_secret_value() == "k" * 32


def _cluster_nodes() -> dict[str, dict[str, Any]]:
    """Each Kafka node's environment with the override applied (compose merges a service's
    environment key by key)."""
    base, cluster = _yaml("docker-compose.yml"), _yaml(CLUSTER)
    nodes = {}
    for name, service in cluster["services"].items():
        if name.startswith("kafka") and name != "kafka-init":
            below = base["services"].get(name, {}).get("environment", {})
            nodes[name] = {**below, **service["environment"]}
    return nodes


def test_the_cluster_override_runs_three_kraft_nodes_with_rf3_and_min_isr2() -> None:
    nodes = _cluster_nodes()
    assert sorted(nodes) == ["kafka", "kafka-2", "kafka-3"]
    rendered = {name: to_properties(env) for name, env in nodes.items()}
    voters = {f"{p['node.id']}@{name}:9093" for name, (p, _) in rendered.items()}
    assert len(voters) == 3
    for name, (properties, cluster_id) in rendered.items():
        assert cluster_id == nodes["kafka"]["CLUSTER_ID"], name  # one cluster
        assert properties["process.roles"] == "broker,controller", name  # KRaft
        assert set(properties["controller.quorum.voters"].split(",")) == voters, name
        assert properties["advertised.listeners"] == f"PLAINTEXT://{name}:9092", name
        assert properties["default.replication.factor"] == "3", name
        assert properties["min.insync.replicas"] == "2", name
        assert properties["offsets.topic.replication.factor"] == "3", name
        assert properties["transaction.state.log.replication.factor"] == "3", name
        assert properties["transaction.state.log.min.isr"] == "2", name
        assert properties["unclean.leader.election.enable"] == "false", name
    # apart from its id and address, every node has node 1's (the base file's) settings
    differ = ("node.id", "advertised.listeners")
    same = [{k: v for k, v in p.items() if k not in differ} for p, _ in rendered.values()]
    assert same[0] == same[1] == same[2]
    # each node keeps its log in a volume of its own
    cluster = _yaml(CLUSTER)
    volumes = [cluster["services"][n]["volumes"][0] for n in ("kafka-2", "kafka-3")]
    volumes.append(_yaml("docker-compose.yml")["services"]["kafka"]["volumes"][0])
    assert len({v.split(":")[0] for v in volumes}) == 3
    # kafka-init waits for all three and creates the topics with RF 3 and min ISR 2
    init = cluster["services"]["kafka-init"]
    assert set(init["depends_on"]) == set(nodes)
    assert re.search(r"--replication-factor 3\b", init["command"][0])
    assert "--config min.insync.replicas=2" in init["command"][0]


def test_the_cluster_apps_use_all_three_nodes_with_rf3_and_min_isr2() -> None:
    base, cluster = _yaml("docker-compose.yml"), _yaml(CLUSTER)
    apps = [n for n in base["services"] if n not in ("kafka", "kafka-init", "redis")]
    assert {"poller", "scorer", "scorer-cpu", "console", "trainer"} <= set(apps)
    for name in apps:
        env = {**base["services"][name]["environment"], **cluster["services"][name]["environment"]}
        settings = _settings_from(env)  # real settings, with these values
        kafka = settings.kafka
        assert kafka.bootstrap_servers.split(",") == [
            "kafka:9092",
            "kafka-2:9092",
            "kafka-3:9092",
        ], name
        assert (kafka.replication_factor, kafka.min_insync_replicas) == (3, 2), name
        assert kafka.enable_idempotence, name  # acks=all: min ISR 2 protects every write


@needs_compose
def test_compose_merges_the_cluster_override_as_the_tests_assume() -> None:
    result = _compose_config("docker-compose.yml", CLUSTER)
    assert result.returncode == 0, result.stderr
    merged = yaml.safe_load(result.stdout)["services"]
    for name, env in _cluster_nodes().items():
        assert {k: str(v) for k, v in merged[name]["environment"].items()} == {
            k: str(v) for k, v in env.items()
        }, name
    assert merged["scorer"]["environment"]["LOVELORN_KAFKA__REPLICATION_FACTOR"] == "3"
    assert merged["scorer"]["deploy"]["resources"]["reservations"]["devices"]  # kept
    assert merged["scorer-cpu"]["profiles"] == ["cpu"]  # kept


def test_redis_fsyncs_every_acknowledged_write_as_documented() -> None:
    """The scorer commits offsets once Redis acknowledged the alerts: an acknowledged write
    must survive a host crash, so the AOF is fsynced before each reply, during rewrites too."""
    text = (ROOT / "docker-compose.yml").read_text()
    command = _yaml("docker-compose.yml")["services"]["redis"]["command"]
    assert command[command.index("--appendonly") + 1] == "yes"
    assert command[command.index("--appendfsync") + 1] == "always"
    assert command[command.index("--no-appendfsync-on-rewrite") + 1] == "no"
    # the compose file says why and what it costs, next to the setting
    comment = text[: text.index('    command: ["redis-server"')].rsplit("\n\n", 1)[-1]
    assert "`appendfsync always`" in comment and "Trade-off" in comment
    # and the README describes the same policy
    readme = (ROOT / "README.md").read_text()
    deployment = readme[readme.index("## Production deployment") :]
    deployment = deployment[: deployment.index("\n## ", 1)]
    assert set(re.findall(r"appendfsync[` ]+(\w+)", deployment)) == {"always"}
