"""The lovelorn model that ships inside the package, and registries seeded with it.

A fresh install (or a fresh docker volume) has no trained model; the registry then
installs the bundled one as v1, so classifying, scoring and the demo work at once.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from monitor.model.manifest import MANIFEST
from monitor.model.registry import ModelRegistry
from monitor.settings import Settings

__all__ = ["BUNDLED_NAME", "BUNDLED_VERSION", "bundled_model_dir", "registry_for"]

BUNDLED_NAME = "bundled_model"
BUNDLED_VERSION = "bundled"  # the manifest's version; seeding registers it as the next vN


def bundled_model_dir() -> Path | None:
    """The bundled export's directory, or None in a build without it."""
    path = Path(str(files("monitor").joinpath(BUNDLED_NAME)))
    return path if (path / MANIFEST).is_file() else None


def registry_for(settings: Settings) -> ModelRegistry:
    """The settings' registry, seeded with the bundled model when empty (unless
    ``registry.bundled`` is off)."""
    seed = bundled_model_dir() if settings.registry.bundled else None
    return ModelRegistry(settings.registry_root, seed=seed)
