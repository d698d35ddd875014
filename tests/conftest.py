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


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark the tests whose outcome rests on a trained model's scores (``-m model``): .ci/run
    runs them a second time with oneDNN capped to AVX2 where the CPU has more."""
    for item in items:
        module = getattr(item, "module", None)
        if "tiny_home" in getattr(item, "fixturenames", ()) or hasattr(module, "train_tiny"):
            item.add_marker(pytest.mark.model)


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
    from tests.fixtures import unique_topics

    suffix = uuid.uuid4().hex[:8]
    kafka = unique_topics(services.kafka)
    redis = services.redis.model_copy(update={"key_prefix": f"t{suffix}:"})
    settings = services.model_copy(update={"kafka": kafka, "redis": redis})
    asyncio.run(ensure_topics(kafka, topics_for(kafka)))
    return settings


@pytest.fixture(scope="session")
def tiny_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A home directory whose registry holds v1 (promoted), a tiny model trained on the 40 fixture texts (three spellings each)."""
    from tests.fixtures import fixture_examples, train_tiny

    home = tmp_path_factory.mktemp("tiny-home")
    train_tiny(Settings(home=home, registry=UNSEEDED), fixture_examples(home / "forty.tsv"))
    return home


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Which ISA oneDNN ran and how far apart each fixture model put its texts."""
    from monitor.model.precision import onednn_cap
    from tests.fixtures import FIXTURE_MARGINS, FIXTURE_MODELS
    from tests.isa import cpu_has_avx512, onednn_isa

    if not FIXTURE_MODELS:
        return
    write = terminalreporter.write_line
    cap = onednn_cap()
    write(
        f"oneDNN ran: {onednn_isa(FIXTURE_MODELS[0])}"
        f" (ONEDNN_MAX_CPU_ISA={cap or 'unset'}; this CPU "
        + (
            "has AVX-512: .ci/run also runs the model tests capped to AVX2)"
            if cpu_has_avx512()
            else "has no AVX-512: an AVX2 cap would change nothing, so no second pass)"
        )
    )
    for line in FIXTURE_MARGINS:
        write(f"fixture model {line}")


# Helpers that multiprocessing and joblib start and end themselves when the interpreter
# exits: not a test's leftovers.
_LIBRARY_HELPERS = ("multiprocessing.", "joblib.externals.loky")


@pytest.fixture(scope="session", autouse=True)
def no_process_outlives_the_session() -> Iterator[None]:
    """Fail the session when a process a test started still runs at its end (and kill it).

    The session becomes the subreaper of all it starts, so an orphan (a ``lovelorn run``
    child whose supervisor was killed) is re-parented here rather than to init and is still
    found; the embedded services the session starts die with it even if it is killed. Set
    up before every other session fixture, so it checks after they have all torn down.
    """
    from monitor.embedded.processes import end_services_with_this_process
    from tests.proctree import (
        become_subreaper,
        cmdline,
        descendants,
        kill_tree,
        reap_orphans,
        wait_gone,
    )

    end_services_with_this_process()
    become_subreaper()
    yield
    reap_orphans()
    started = [
        pid
        for pid in descendants(os.getpid())
        if not any(helper in cmdline(pid) for helper in _LIBRARY_HELPERS)
    ]
    left = wait_gone(started, 10.0)
    if left:
        listing = "; ".join(f"pid {pid}: {cmdline(pid)[:200]}" for pid in left)
        for pid in left:
            kill_tree(pid)
        pytest.fail(f"{len(left)} process(es) started by tests outlived the session: {listing}")
