"""Session fixtures: real embedded Tansu and Redis on free loopback ports, fresh topics per test."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from monitor.bus import ensure_topics
from monitor.bus.admin import topics_for
from monitor.embedded import EmbeddedServices
from monitor.settings import KafkaSettings, RegistrySettings, Settings

# The tests' registries hold only the models the tests train (v1, v2 …); tests of the
# bundled model turn seeding on.
UNSEEDED = RegistrySettings(bundled=False)

os.environ.setdefault(
    "PPNLP_HOME", str(Path(__file__).resolve().parent.parent / ".lovelorn" / "ppnlp")
)


@pytest.fixture(autouse=True)
def unseeded_registries(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings built in a test (and CLI runs in-process) see only the models the test
    trains; tests of the bundled model ask for it explicitly."""
    monkeypatch.setenv("LOVELORN_REGISTRY__BUNDLED", "false")


@pytest.fixture(scope="session")
def services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """Settings pointing at running embedded services (stopped at the end of the session)."""
    home = tmp_path_factory.mktemp("lovelorn-home")
    base = Settings(
        home=home,
        kafka=KafkaSettings(session_timeout_ms=1000, partitions=2),
        registry=UNSEEDED,
    )
    embedded = EmbeddedServices(base)
    asyncio.run(embedded.up())
    try:
        yield embedded.endpoints()
    finally:
        embedded.down()


@pytest.fixture
def stack(services: Settings) -> Settings:
    """Like ``services`` but with topics and a consumer group unique to this test."""
    suffix = uuid.uuid4().hex[:8]
    kafka = services.kafka.model_copy(
        update={
            "comments_topic": f"comments-{suffix}",
            "alerts_topic": f"alerts-{suffix}",
            "scores_topic": f"scores-{suffix}",
            "dead_letter_topic": f"dlq-{suffix}",
            "consumer_group": f"scorer-{suffix}",
        }
    )
    redis = services.redis.model_copy(update={"key_prefix": f"t{suffix}:"})
    settings = services.model_copy(update={"kafka": kafka, "redis": redis})
    asyncio.run(ensure_topics(kafka, topics_for(kafka)))
    return settings


@pytest.fixture(scope="session")
def tiny_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A home directory whose registry holds v1 (promoted), a tiny model trained on 40 texts."""
    from tests.fixtures import forty_examples, train_tiny

    home = tmp_path_factory.mktemp("tiny-home")
    train_tiny(Settings(home=home, registry=UNSEEDED), forty_examples(home / "forty.tsv"))
    return home
