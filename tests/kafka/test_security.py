"""SASL/SCRAM over TLS on Apache Kafka, with a CA and broker certificate made by the test:
producer, consumer and admin client connect from settings; a wrong password or an untrusted
certificate is one clear, non-retriable error."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from monitor.bus import Consumer, Producer, ensure_topics
from monitor.bus.admin import TopicSpec
from monitor.embedded.apache_kafka import KafkaCluster
from monitor.errors import BusError
from monitor.settings import KafkaSettings
from tests.kafka.conftest import require_kafka


def _openssl(folder: Path, *args: str) -> None:
    subprocess.run(["openssl", *args], cwd=folder, check=True, capture_output=True)


def make_tls_material(folder: Path) -> tuple[Path, Path]:
    """A test CA, and a broker key + certificate for 127.0.0.1/localhost signed by it, in the
    PEM keystore Kafka reads (key, certificate, CA)."""
    folder.mkdir(parents=True, exist_ok=True)
    _openssl(
        folder,
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=lovelorn-test-ca",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
    )
    _openssl(
        folder,
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "broker.key",
        "-out",
        "broker.csr",
        "-subj",
        "/CN=localhost",
    )
    (folder / "broker.ext").write_text(
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n"
    )
    _openssl(
        folder,
        "x509",
        "-req",
        "-in",
        "broker.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "broker.crt",
        "-days",
        "2",
        "-extfile",
        "broker.ext",
    )
    keystore = folder / "broker-keystore.pem"
    keystore.write_text(
        "".join((folder / n).read_text() for n in ("broker.key", "broker.crt", "ca.pem"))
    )
    return folder / "ca.pem", keystore


@pytest.fixture(scope="module")
def secure_kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[KafkaCluster, Path]]:
    require_kafka()
    if shutil.which("openssl") is None:
        pytest.skip("real-Kafka TLS test skipped: no openssl on PATH")
    ca, keystore = make_tls_material(tmp_path_factory.mktemp("tls"))
    with KafkaCluster(1, scram={"scorer": "right-pw"}, keystore=keystore) as cluster:
        yield cluster, ca


def _settings(cluster: KafkaCluster, ca: Path, password: str) -> KafkaSettings:
    return KafkaSettings(
        bootstrap_servers=cluster.bootstrap_servers,
        security_protocol="SASL_SSL",
        sasl_mechanism="SCRAM-SHA-256",
        sasl_username="scorer",
        sasl_password=SecretStr(password),
        ssl_cafile=ca,
        comments_topic="secure-comments",
    )


async def test_producer_consumer_and_admin_over_sasl_scram_tls(
    secure_kafka: tuple[KafkaCluster, Path],
) -> None:
    cluster, ca = secure_kafka
    kafka = _settings(cluster, ca, "right-pw")
    assert await ensure_topics(kafka, [TopicSpec("secure-comments", 1)]) == ["secure-comments"]
    async with Producer(kafka) as producer:
        await producer.send_and_wait("secure-comments", b"over TLS", key=b"k")
    async with Consumer(kafka, group_id=None) as consumer:
        tps = await consumer.partitions("secure-comments")
        consumer.assign(tps)
        await consumer.seek_to_beginning(tps)
        got = await consumer.getmany(timeout_ms=5000)
    assert [r.value for rs in got.values() for r in rs] == [b"over TLS"]


async def test_a_wrong_password_is_one_clear_error(secure_kafka: tuple[KafkaCluster, Path]) -> None:
    cluster, ca = secure_kafka
    with pytest.raises(BusError) as refused:
        await Producer(_settings(cluster, ca, "wrong-pw")).start()
    message = str(refused.value)
    assert "refused the SASL credentials of user 'scorer'" in message
    assert "wrong-pw" not in message and not refused.value.retriable


async def test_an_untrusted_certificate_is_one_clear_error(
    secure_kafka: tuple[KafkaCluster, Path], tmp_path: Path
) -> None:
    cluster, _ = secure_kafka
    other_ca, _ = make_tls_material(tmp_path / "other")
    with pytest.raises(BusError, match=r"TLS certificate is not trusted: check kafka\.ssl_cafile"):
        await Producer(_settings(cluster, other_ca, "right-pw")).start()


def test_the_cli_says_so_in_one_line(
    secure_kafka: tuple[KafkaCluster, Path], tmp_path: Path
) -> None:
    import os
    import sys

    cluster, ca = secure_kafka
    comments = tmp_path / "c.jsonl"
    comments.write_text("", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOVELORN_")}
    env |= {
        "LOVELORN_HOME": str(tmp_path),
        "LOVELORN_KAFKA__BOOTSTRAP_SERVERS": cluster.bootstrap_servers,
        "LOVELORN_KAFKA__SECURITY_PROTOCOL": "SASL_SSL",
        "LOVELORN_KAFKA__SASL_MECHANISM": "SCRAM-SHA-256",
        "LOVELORN_KAFKA__SASL_USERNAME": "scorer",
        "LOVELORN_KAFKA__SASL_PASSWORD": "wrong-pw",
        "LOVELORN_KAFKA__SSL_CAFILE": str(ca),
        "LOVELORN_REDIS__URL": "redis://127.0.0.1:1/0",
    }
    done = subprocess.run(
        [sys.executable, "-m", "monitor", "poll", "--from-file", str(comments)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "SASL credentials" in lines[0]
