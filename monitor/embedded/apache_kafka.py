"""Real Apache Kafka on loopback, for the real-Kafka tests and benchmarks (not the demo).

Kafka's ``bin/`` scripts only build a classpath and call two main classes; this does the
same from Python: Maven copies ``kafka_2.13`` and its dependencies from Maven Central into
a cache folder once, ``kafka.tools.StorageTool format`` writes KRaft storage with a
cluster id, and ``kafka.Kafka server.properties`` runs each node. A cluster is one node or
several combined broker+controller nodes with a static quorum, on free ports, with small
heaps (measured: ~150 MB and ~6 s to ready per node on 2 cores). Needs Java ≥ 17 and Maven.
"""

from __future__ import annotations

import base64
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Self

from monitor.embedded.kafka_jars import KAFKA_VERSION, ensure_jars
from monitor.embedded.processes import die_with_this_process, popen
from monitor.errors import ServiceError

__all__ = ["KafkaCluster", "KafkaNode", "random_cluster_id"]

_LOG4J2 = """status = warn
shutdownHook = disable
appender.file.type = File
appender.file.name = FILE
appender.file.fileName = ${sys:kafka.logs.dir}/server.log
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = FILE
"""
# Kafka's scripts use a 1 GB heap and G1; a test node needs far less.
_JVM = [
    "-Xms64m",
    "-Xmx256m",
    "-XX:+UseSerialGC",
    "-XX:TieredStopAtLevel=1",
    "-XX:+ExitOnOutOfMemoryError",
    "-Djava.awt.headless=true",
]


def random_cluster_id() -> str:
    """What ``kafka-storage random-uuid`` prints: 16 random bytes, URL-safe base64, 22 chars."""
    while True:
        cid = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cid.startswith("-"):
            return cid


def _free_ports(n: int) -> list[int]:
    sockets = [socket.socket() for _ in range(n)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [int(s.getsockname()[1]) for s in sockets]
    finally:
        for s in sockets:
            s.close()


class KafkaNode:
    """One broker+controller process; its log dir survives a kill, so it can restart."""

    def __init__(
        self, node_id: int, folder: Path, properties: dict[str, object], libs: Path
    ) -> None:
        self.node_id = node_id
        self.folder = folder
        self.properties = properties
        self._libs = libs
        self.process: subprocess.Popen[bytes] | None = None
        folder.mkdir(parents=True, exist_ok=True)
        self.config = folder / "server.properties"
        self.config.write_text("".join(f"{k}={v}\n" for k, v in properties.items()))
        (folder / "log4j2.properties").write_text(_LOG4J2)
        self.log = folder / "server.log"

    def _java(self, main: str, *args: str, jvm: list[str]) -> list[str]:
        return ["java", *jvm, "-cp", f"{self._libs}/*", main, *args]

    def format(self, cluster_id: str, extra: list[str]) -> None:
        command = self._java(
            "kafka.tools.StorageTool",
            "format",
            "--cluster-id",
            cluster_id,
            "--config",
            str(self.config),
            *extra,
            jvm=["-Xmx128m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1"],
        )
        tied = die_with_this_process()  # dies with us; the calling thread waits for it
        done = subprocess.run(command, capture_output=True, text=True, timeout=120, preexec_fn=tied)
        if done.returncode != 0:
            raise ServiceError(f"kafka storage format failed: {(done.stdout + done.stderr)[-500:]}")

    def start(self) -> None:
        self._log_from = self.log.stat().st_size if self.log.exists() else 0
        jvm = [
            *_JVM,
            f"-Dkafka.logs.dir={self.folder}",
            f"-Dlog4j2.configurationFile={self.folder / 'log4j2.properties'}",
        ]
        with open(self.folder / "stdout.log", "ab") as out:
            # SIGKILL when the test or benchmark that started it dies (its data survives that)
            self.process = popen(
                self._java("kafka.Kafka", str(self.config), jvm=jvm),
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )

    def wait_started(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise ServiceError(f"kafka node {self.node_id} exited; see {self.log}")
            if self.log.exists():
                with self.log.open("rb") as handle:
                    handle.seek(self._log_from)
                    if b"Kafka Server started" in handle.read():
                        return
            time.sleep(0.1)
        raise ServiceError(
            f"kafka node {self.node_id} not ready after {timeout_s:.0f}s; see {self.log}"
        )

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        if self.running:
            assert self.process is not None
            self.process.kill()
            self.process.wait()


class KafkaCluster:
    """``nodes`` combined broker+controller nodes on free loopback ports.

    ``scram`` (user → password) with ``keystore`` (a PEM file: key, certificate, CA) gives
    clients a SASL_SSL listener with SCRAM-SHA-256; nodes talk to each other in plain text
    on loopback. A temporary folder (the default) is deleted on exit.
    """

    def __init__(
        self,
        nodes: int = 1,
        folder: Path | None = None,
        *,
        properties: dict[str, object] | None = None,
        cluster_id: str | None = None,
        scram: dict[str, str] | None = None,
        keystore: Path | None = None,
        version: str = KAFKA_VERSION,
    ) -> None:
        libs = ensure_jars(version)
        self._temporary = folder is None
        self.folder = folder or Path(tempfile.mkdtemp(prefix="kafka-"))
        self.cluster_id = cluster_id or random_cluster_id()
        self._scram = scram or {}
        ports = _free_ports(3 * nodes)
        self.client_ports, controllers, internal = (
            ports[:nodes],
            ports[nodes : 2 * nodes],
            ports[2 * nodes :],
        )
        voters = ",".join(f"{i + 1}@127.0.0.1:{p}" for i, p in enumerate(controllers))
        replicas = min(nodes, 3)
        self.nodes = []
        for i in range(nodes):
            props: dict[str, object] = {
                "process.roles": "broker,controller",
                "node.id": i + 1,
                "controller.quorum.voters": voters,
                "controller.listener.names": "CONTROLLER",
                "log.dirs": self.folder / f"node{i + 1}" / "data",
                "offsets.topic.replication.factor": replicas,
                "offsets.topic.num.partitions": 3,
                "transaction.state.log.replication.factor": replicas,
                "transaction.state.log.min.isr": min(replicas, 2),
                "transaction.state.log.num.partitions": 3,
                "share.coordinator.state.topic.replication.factor": replicas,
                "share.coordinator.state.topic.min.isr": min(replicas, 2),
                "group.initial.rebalance.delay.ms": 0,
                # tests and the soak use short sessions to see failovers quickly
                "group.min.session.timeout.ms": 1000,
                "num.network.threads": 2,
                "num.io.threads": 2,
                "background.threads": 2,
                "log.cleaner.dedupe.buffer.size": 8
                * 1024
                * 1024,  # its 128 MiB default doubles RSS
                # a killed node is fenced in ~3 s instead of ~9 s
                "broker.session.timeout.ms": 3000,
                "broker.heartbeat.interval.ms": 500,
            }
            if keystore is not None:
                props |= {
                    "listeners": f"SASL_SSL://127.0.0.1:{self.client_ports[i]},"
                    f"INTERNAL://127.0.0.1:{internal[i]},CONTROLLER://127.0.0.1:{controllers[i]}",
                    "advertised.listeners": f"SASL_SSL://127.0.0.1:{self.client_ports[i]},"
                    f"INTERNAL://127.0.0.1:{internal[i]}",
                    "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,INTERNAL:PLAINTEXT,SASL_SSL:SASL_SSL",
                    "inter.broker.listener.name": "INTERNAL",
                    "sasl.enabled.mechanisms": "SCRAM-SHA-256",
                    "listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config": "org.apache.kafka.common.security.scram.ScramLoginModule required;",
                    "ssl.keystore.type": "PEM",
                    "ssl.keystore.location": keystore,
                    "ssl.client.auth": "none",
                }
            else:
                props |= {
                    "listeners": f"PLAINTEXT://127.0.0.1:{self.client_ports[i]},"
                    f"CONTROLLER://127.0.0.1:{controllers[i]}",
                    "advertised.listeners": f"PLAINTEXT://127.0.0.1:{self.client_ports[i]}",
                    "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
                    "inter.broker.listener.name": "PLAINTEXT",
                }
            props |= properties or {}
            self.nodes.append(KafkaNode(i + 1, self.folder / f"node{i + 1}", props, libs))

    @property
    def bootstrap_servers(self) -> str:
        return ",".join(f"127.0.0.1:{p}" for p in self.client_ports)

    def start(self, timeout_s: float = 120.0) -> Self:
        """Format every node's storage (in parallel), start them, wait until all serve."""
        extra = [
            a
            for user, pw in self._scram.items()
            for a in ("--add-scram", f"SCRAM-SHA-256=[name={user},password={pw}]")
        ]
        with ThreadPoolExecutor(len(self.nodes)) as pool:
            list(pool.map(lambda node: node.format(self.cluster_id, extra), self.nodes))
        for node in self.nodes:
            node.start()
        for node in self.nodes:
            node.wait_started(timeout_s)
        return self

    def kill_node(self, index: int) -> None:
        """SIGKILL one node (its data stays: ``restart_node`` brings it back)."""
        self.nodes[index].kill()

    def restart_node(self, index: int, timeout_s: float = 120.0) -> None:
        node = self.nodes[index]
        node.kill()
        node.start()
        node.wait_started(timeout_s)

    def stop(self, timeout_s: float = 60.0) -> None:
        """SIGTERM every node at once (one by one, the last waits for a quorum that is gone)."""
        for node in self.nodes:
            if node.running:
                assert node.process is not None
                node.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        for node in self.nodes:
            if node.process is not None:
                try:
                    node.process.wait(max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    node.kill()

    def close(self) -> None:
        """A temporary cluster is killed (its data goes anyway) and deleted; a kept one stops."""
        if self._temporary:
            for node in self.nodes:
                node.kill()
            shutil.rmtree(self.folder, ignore_errors=True)
        else:
            self.stop()

    def __enter__(self) -> Self:
        try:
            return self.start()
        except BaseException:
            self.close()
            raise

    def __exit__(self, *exc_info: object) -> None:
        self.close()
