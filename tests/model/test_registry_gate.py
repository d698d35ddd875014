"""The registry's promotion gate and first-use seeding, on plain directories (tmp_path only)."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from monitor.errors import PromotionRefused
from monitor.model.registry import MIN_RANKING_AUC, ModelRegistry
from monitor.schemas import utcnow
from tests.fixtures import register_stub

pytestmark = pytest.mark.unit  # the fast layer: no broker, Redis, Paddle or network


def served(f1: float, auc: float = 0.9) -> dict[str, Any]:
    return {"test_at_threshold": {"macro_f1": f1}, "validation_ranking": {"auc": auc}}


@pytest.fixture
def registry(tmp_path: Path) -> ModelRegistry:
    reg = ModelRegistry(tmp_path / "models")
    reg.promote(register_stub(reg, tmp_path, served(0.80)), margin=0.01)
    return reg


def test_a_candidate_that_does_not_rank_is_refused_unless_forced(
    registry: ModelRegistry, tmp_path: Path
) -> None:
    weak = register_stub(registry, tmp_path, served(0.95, auc=0.55))
    with pytest.raises(PromotionRefused, match=r"validation AUC 0\.55 < 0\.6"):
        registry.promote(weak, margin=0.01)
    assert registry.current() == "v1"
    event = registry.promote(weak, margin=0.01, force=True)
    assert (event.version, event.previous, event.forced) == ("v2", "v1", True)
    assert registry.current() == "v2"


def test_the_auc_floor_itself_passes(registry: ModelRegistry, tmp_path: Path) -> None:
    assert MIN_RANKING_AUC == 0.6
    at_floor = register_stub(registry, tmp_path, served(0.80, auc=MIN_RANKING_AUC))
    assert registry.promote(at_floor, margin=0.01).forced is False
    assert registry.current() == at_floor


def test_the_gate_compares_metrics_at_the_serving_threshold(
    registry: ModelRegistry, tmp_path: Path
) -> None:
    # 0.90 at 0.5 (test) but 0.70 where it would serve: the served figure decides
    misleading = register_stub(
        registry,
        tmp_path,
        {"test": {"macro_f1": 0.90}, "test_at_threshold": {"macro_f1": 0.70}},
    )
    with pytest.raises(PromotionRefused, match=r"macro-F1 0\.7000 .* current v1 0\.8000"):
        registry.promote(misleading, margin=0.05)
    assert registry.current() == "v1"


def test_the_gate_falls_back_to_the_test_figures(registry: ModelRegistry, tmp_path: Path) -> None:
    older_style = register_stub(registry, tmp_path, {"test": {"macro_f1": 0.70}})
    with pytest.raises(PromotionRefused):
        registry.promote(older_style, margin=0.05)
    within_margin = register_stub(registry, tmp_path, {"test": {"macro_f1": 0.76}})
    assert registry.promote(within_margin, margin=0.05).version == within_margin
    unmeasured = register_stub(registry, tmp_path, {})
    assert registry.promote(unmeasured, margin=0.0).version == unmeasured  # nothing to compare


def test_promoting_the_current_version_is_refused(registry: ModelRegistry) -> None:
    with pytest.raises(PromotionRefused, match="already the current model"):
        registry.promote("v1", margin=0.01, force=True)


@pytest.fixture
def seed(tmp_path: Path) -> Path:
    """A bundled-model directory as the package ships it (its own version and date)."""
    seed = tmp_path / "bundled"
    seed.mkdir()
    (seed / "vocab.txt").write_text("[PAD]\n[UNK]\n")
    manifest = {
        "version": "v9",
        "created_at": "2025-01-01T00:00:00Z",
        "base_model": "ernie-tiny",
        "max_seq_len": 128,
        "threshold": 0.6,
        "data_hash": "seed-hash",
    }
    (seed / "manifest.json").write_text(json.dumps(manifest))
    return seed


@pytest.mark.parametrize("first_call", ["current", "versions"])
def test_a_seed_is_installed_as_v1_and_promoted_once(
    tmp_path: Path, seed: Path, first_call: str
) -> None:
    registry = ModelRegistry(tmp_path / "models", seed=seed)
    first = getattr(registry, first_call)()
    assert first == ("v1" if first_call == "current" else ["v1"])
    for _ in range(3):  # later reads find a version and never seed again
        assert registry.current() == "v1"
        assert registry.versions() == ["v1"]
    manifest = registry.manifest()
    assert (manifest.version, manifest.base_model, manifest.data_hash) == (
        "v1",
        "ernie-tiny",
        "seed-hash",
    )
    assert utcnow() - manifest.created_at < timedelta(minutes=5)  # registered now, not in 2025
    assert (registry.path("v1") / "vocab.txt").read_text() == "[PAD]\n[UNK]\n"
    assert [(p.action, p.version, p.previous) for p in registry.history()] == [
        ("promote", "v1", None)
    ]
    assert (seed / "vocab.txt").is_file() and (seed / "manifest.json").is_file()  # copied
    assert not list(registry.root.glob(".seed-*"))  # staging cleaned up


def test_no_seeding_when_versions_exist(tmp_path: Path, seed: Path) -> None:
    plain = ModelRegistry(tmp_path / "models")
    register_stub(plain, tmp_path, served(0.8))  # registered, never promoted
    registry = ModelRegistry(tmp_path / "models", seed=seed)
    assert registry.current() is None
    assert registry.versions() == ["v1"]
    assert registry.manifest("v1").base_model == "test"
    assert registry.history() == []
