"""Secure connections from settings: Redis password + TLS for real, Kafka SSL/SASL options, secrets kept out."""

from __future__ import annotations

import asyncio
import shutil
import socket
import ssl
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import generate_latest
from pydantic import SecretStr

from monitor.bus.connection import connection_options
from monitor.embedded import free_port
from monitor.errors import ConfigError, StoreError
from monitor.metrics import Metrics
from monitor.settings import KafkaSettings, RedisSettings
from monitor.store import Store

needs_tls_tools = pytest.mark.skipif(
    not (shutil.which("openssl") and shutil.which("redis-server")),
    reason="needs openssl and a TLS-capable redis-server on PATH (apt-get install -y redis-server)",
)


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    if not shutil.which("openssl"):
        pytest.skip("openssl not installed")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-days",
            "2",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost,IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


@pytest.fixture(scope="module")
def tls_redis(
    certificate: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[int]:
    cert, key = certificate
    port = free_port()
    process = subprocess.Popen(
        [
            "redis-server",
            "--port",
            "0",
            "--tls-port",
            str(port),
            "--tls-cert-file",
            str(cert),
            "--tls-key-file",
            str(key),
            "--tls-ca-cert-file",
            str(cert),
            "--tls-auth-clients",
            "no",
            "--requirepass",
            "s3cret-pw",
            "--save",
            "",
            "--dir",
            str(tmp_path_factory.mktemp("redis")),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.skip(f"this redis-server has no TLS support: {process.stdout.read()[-300:]!r}")  # type: ignore[union-attr]
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.05)
    yield port
    process.terminate()
    process.wait(timeout=10)


@needs_tls_tools
def test_redis_over_tls_with_password(tls_redis: int, certificate: tuple[Path, Path]) -> None:
    cert, _ = certificate

    async def ping(password: str | None) -> None:
        settings = RedisSettings(
            url=f"rediss://localhost:{tls_redis}/0",
            ssl_ca_certs=cert,
            password=SecretStr(password) if password else None,
        )
        async with Store(settings) as store:
            await store.ping()

    asyncio.run(ping("s3cret-pw"))
    with pytest.raises(StoreError, match="refused the credentials") as refused:
        asyncio.run(ping("wrong"))
    assert not refused.value.retriable and "wrong" not in str(refused.value)


def test_kafka_ssl_and_sasl_options(certificate: tuple[Path, Path]) -> None:
    cert, key = certificate
    options = connection_options(
        KafkaSettings(
            bootstrap_servers="kafka:9093",
            security_protocol="SASL_SSL",
            sasl_mechanism="SCRAM-SHA-512",
            sasl_username="scorer",
            sasl_password=SecretStr("kafka-pw"),
            ssl_cafile=cert,
            ssl_certfile=cert,
            ssl_keyfile=key,
        )
    )
    assert isinstance(options["ssl_context"], ssl.SSLContext)
    assert options["ssl_context"].verify_mode == ssl.CERT_REQUIRED
    assert (
        options["sasl_mechanism"],
        options["sasl_plain_username"],
        options["sasl_plain_password"],
    ) == ("SCRAM-SHA-512", "scorer", "kafka-pw")
    with pytest.raises(ConfigError, match=r"needs kafka\.sasl_mechanism"):
        connection_options(
            KafkaSettings(bootstrap_servers="kafka:9093", security_protocol="SASL_PLAINTEXT")
        )


def test_secrets_stay_out_of_settings_dumps_and_metrics() -> None:
    kafka = KafkaSettings(sasl_password=SecretStr("kafka-pw"))
    assert "kafka-pw" not in kafka.model_dump_json() and "kafka-pw" not in repr(kafka)
    metrics = Metrics()
    metrics.counter("weibo_requests", "x", ("endpoint", "outcome")).labels(
        "comments/hotflow", "ok"
    ).inc()
    assert b"SUB=" not in generate_latest(
        metrics.registry
    )  # labels carry endpoints and outcomes only
