"""Registry: versions, the atomic pointer, the promotion gate, rollback, announcements."""

import asyncio
import threading
from pathlib import Path

import pytest

from monitor.errors import ModelNotFound, PromotionRefused
from monitor.model import ModelRegistry, PRPoint, threshold_for_precision
from monitor.settings import Settings
from monitor.store import Keys, Store, announce
from monitor.store import connect as connect_redis
from tests.fixtures import register_stub, run_cli


def test_versions_promote_gate_and_rollback(tmp_path: Path) -> None:
    registry = ModelRegistry(tmp_path / "models")
    with pytest.raises(ModelNotFound, match="run `lovelorn train`"):
        registry.resolve()
    v1 = register_stub(registry, tmp_path, {"test": {"macro_f1": 0.80}})
    v2 = register_stub(registry, tmp_path, {"test": {"macro_f1": 0.70}})
    v3 = register_stub(registry, tmp_path, {"test": {"macro_f1": 0.85}})
    assert registry.versions() == [v1, v2, v3] == ["v1", "v2", "v3"]
    assert (registry.path("v2") / "inference.json").is_file()

    registry.promote(v1, margin=0.01)
    with pytest.raises(PromotionRefused, match="worse than current v1"):
        registry.promote(v2, margin=0.01)
    assert registry.current() == v1
    registry.promote(v3, margin=0.01)
    forced = registry.promote(v2, margin=0.01, force=True)
    assert forced.forced and registry.current() == v2

    back = registry.rollback()
    assert (back.version, back.previous) == (v3, v2)
    assert registry.rollback().version == v1  # v3 was promoted over v1
    with pytest.raises(PromotionRefused, match="nothing to roll back"):
        registry.rollback()
    assert [h.action for h in registry.history()] == [
        "promote",
        "promote",
        "promote",
        "rollback",
        "rollback",
    ]
    with pytest.raises(ModelNotFound, match="known: v1, v2, v3"):
        registry.resolve("v9")


def test_pointer_switch_is_atomic_for_readers(tmp_path: Path) -> None:
    registry = ModelRegistry(tmp_path / "models")
    versions = {
        register_stub(registry, tmp_path, {"test": {"macro_f1": 0.8 + i / 100}}) for i in range(2)
    }
    registry.promote("v1", margin=1)
    seen: set[str | None] = set()
    stop = threading.Event()

    def read() -> None:
        while not stop.is_set():
            seen.add(registry.current())

    reader = threading.Thread(target=read)
    reader.start()
    for i in range(300):
        registry.promote("v2" if i % 2 == 0 else "v1", margin=1, force=True)
    stop.set()
    reader.join()
    assert seen <= versions  # never empty, never half-written


def test_threshold_for_precision() -> None:
    curve = [
        PRPoint(threshold=t, precision=p, recall=r)
        for t, p, r in [
            (0.9, 1.0, 0.2),
            (0.7, 0.8, 0.5),
            (0.6, 0.8, 0.5),
            (0.4, 0.6, 0.8),
            (0.1, 0.4, 1.0),
        ]
    ]
    assert threshold_for_precision(curve, 0.8) == 0.7
    assert threshold_for_precision(curve, 0.6) == 0.4
    assert threshold_for_precision(curve, 1.01) is None


def test_models_cli_and_announcement(
    services: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOVELORN_HOME", str(tmp_path))
    monkeypatch.setenv("LOVELORN_REDIS__URL", services.redis.url or "")
    monkeypatch.setenv("LOVELORN_REDIS__KEY_PREFIX", "announce-test:")
    monkeypatch.setenv("LOVELORN_REGISTRY__BUNDLED", "false")
    registry = ModelRegistry(tmp_path / "models")
    register_stub(registry, tmp_path, {"test": {"macro_f1": 0.8}})
    register_stub(registry, tmp_path, {"test": {"macro_f1": 0.5}})

    async def promote_while_listening() -> tuple[int, list[bytes]]:
        redis = connect_redis(services.redis)
        pubsub = redis.pubsub()
        await pubsub.subscribe(Keys("announce-test:").models)
        await pubsub.get_message(timeout=1)  # subscription confirmation
        result = await asyncio.to_thread(run_cli, "models", "promote", "v1")
        message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=5)
        await pubsub.aclose()
        await redis.aclose()
        return result.code, [message["data"]] if message else []

    code, messages = asyncio.run(promote_while_listening())
    assert code == 0 and len(messages) == 1 and b'"version":"v1"' in messages[0]

    refused = run_cli("models", "promote", "v2")
    assert refused.code == 1 and refused.err.startswith(
        "error: v2 test macro-F1 0.5000 (at its serving"
    )
    assert run_cli("models", "promote", "v2", "--force").code == 0
    listing = run_cli("models", "list")
    assert "* v2" in listing.out and "  v1" in listing.out
    assert '"version": "v2"' in run_cli("models", "show").out
    assert run_cli("models", "rollback").out.startswith("current model: v1")
    missing = run_cli("models", "show", "v7")
    assert missing.code == 1 and "not found" in missing.err


async def test_announce_counts_listeners(services: Settings) -> None:
    from monitor.model import Promotion
    from monitor.schemas import utcnow

    async with Store(services.redis.model_copy(update={"key_prefix": "nobody:"})) as store:
        promotion = Promotion(action="promote", version="v1", previous=None, at=utcnow())
        assert await announce(store, promotion.model_dump_json()) == 0


def test_policy_threshold_never_loosens_an_unreachable_precision_target() -> None:
    from monitor.model import PRPoint, policy_threshold

    curve = [
        PRPoint(threshold=0.9, precision=0.5, recall=0.1),
        PRPoint(threshold=0.5, precision=0.7, recall=0.6),
        PRPoint(threshold=0.2, precision=0.4, recall=0.9),
    ]
    assert policy_threshold(curve, 0.6, 0.5) == (0.5, True)
    assert policy_threshold(curve, 0.4, 0.5) == (0.2, True)  # most recall among those reaching
    assert policy_threshold(curve, 0.8, 0.5) == (0.9, False)  # the strictest, not max F1
    assert policy_threshold([], 0.8, 0.3) == (0.3, False)


def test_a_fresh_registry_resolves_the_bundled_model_by_version(tmp_path: Path) -> None:
    """`lovelorn evaluate --model v1` on a fresh home said "v1 not found (known: v1)": the
    lookup ran before the registry was seeded."""
    from monitor.model import bundled_model_dir

    fresh = ModelRegistry(tmp_path / "models", seed=bundled_model_dir())
    assert fresh.resolve("v1") == "v1"
