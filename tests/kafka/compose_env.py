"""How the apache/kafka image turns a compose service's environment into server.properties
(its docker/resources/common-scripts: defaults for unset variables, listeners derived from
advertised ones, then every KAFKA_* variable as a property), so a test can start the real
broker with exactly the compose file's KRaft settings."""

from __future__ import annotations

import re
from pathlib import Path

# `configureDefaults` in the image (applied when KAFKA_ZOOKEEPER_CONNECT is unset)
IMAGE_DEFAULTS = {
    "KAFKA_NODE_ID": "1",
    "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,PLAINTEXT_HOST:PLAINTEXT",
    "KAFKA_LISTENERS": "PLAINTEXT://localhost:29092,CONTROLLER://localhost:29093,PLAINTEXT_HOST://0.0.0.0:9092",
    "KAFKA_ADVERTISED_LISTENERS": "PLAINTEXT://localhost:29092,PLAINTEXT_HOST://localhost:9092",
    "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR": "1",
    "KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS": "0",
    "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR": "1",
    "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR": "1",
    "KAFKA_PROCESS_ROLES": "broker,controller",
    "KAFKA_CONTROLLER_QUORUM_VOTERS": "1@localhost:29093",
    "KAFKA_INTER_BROKER_LISTENER_NAME": "PLAINTEXT",
    "KAFKA_CONTROLLER_LISTENER_NAMES": "CONTROLLER",
    "KAFKA_LOG_DIRS": "/tmp/kraft-combined-logs",
}
# variables the image does not render as properties (kafka-propertiesSpec.json)
NOT_PROPERTIES = {
    "KAFKA_VERSION",
    "KAFKA_HEAP_OPT",
    "KAFKA_LOG4J_OPTS",
    "KAFKA_OPTS",
    "KAFKA_JMX_OPTS",
    "KAFKA_JVM_PERFORMANCE_OPTS",
    "KAFKA_GC_LOG_OPTS",
    "KAFKA_LOG4J_ROOT_LOGLEVEL",
    "KAFKA_LOG4J_LOGGERS",
    "KAFKA_TOOLS_LOG4J_LOGLEVEL",
}
_SINGLE = re.compile(r"[^_]_[^_]")


def property_name(variable: str) -> str:
    """KAFKA_LOG_RETENTION_HOURS → log.retention.hours (`_`→`.`, `__`→`_`, `___`→`-`)."""
    key = variable.removeprefix("KAFKA_")
    key = _SINGLE.sub(lambda m: m.group(0).replace("_", "."), key)
    return key.replace("___", "-").replace("__", "_").lower()


def to_properties(environment: dict[str, object]) -> tuple[dict[str, str], str | None]:
    """(server.properties, CLUSTER_ID) as the image would build them."""
    env = {k: "" if v is None else str(v) for k, v in environment.items()}
    for key, value in IMAGE_DEFAULTS.items():
        if not env.get(key):
            env[key] = value
    if not env.get("KAFKA_LISTENERS") and env.get("KAFKA_ADVERTISED_LISTENERS"):
        env["KAFKA_LISTENERS"] = re.sub(
            r"://[^:]*:", "://0.0.0.0:", env["KAFKA_ADVERTISED_LISTENERS"]
        )
    properties = {
        property_name(k): v
        for k, v in env.items()
        if k.startswith("KAFKA_") and k not in NOT_PROPERTIES
    }
    return properties, env.get("CLUSTER_ID")


def on_loopback(
    properties: dict[str, str], folder: Path, *, client: int, controller: int
) -> dict[str, str]:
    """The same settings with hosts, ports and the log folder made local; nothing else."""
    local = dict(properties)
    controllers = set(local.get("controller.listener.names", "CONTROLLER").split(","))

    def rewrite(listeners: str) -> str:
        out = []
        for entry in listeners.split(","):
            name = entry.split("://")[0]
            out.append(f"{name}://127.0.0.1:{controller if name in controllers else client}")
        return ",".join(out)

    local["listeners"] = rewrite(local["listeners"])
    local["advertised.listeners"] = rewrite(local["advertised.listeners"])
    local["controller.quorum.voters"] = ",".join(
        f"{voter.split('@')[0]}@127.0.0.1:{controller}"
        for voter in local["controller.quorum.voters"].split(",")
    )
    local["log.dirs"] = str(folder / "data")
    return local
