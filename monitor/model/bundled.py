"""The lovelorn model that ships inside the package, and registries seeded with it.

A fresh install (or a fresh docker volume) has no trained model; the registry then
installs the bundled one as v1, so classifying, scoring and the demo work at once. The
package carries the weights in float16 (``inference.pdiparams.fp16``, half the bytes);
they are widened once into the cache (``~/.cache/lovelorn/bundled/…``) as the float32 file
Paddle Inference loads, and the registry and ``Detector.load()`` read that copy.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from importlib.resources import files
from pathlib import Path

from monitor.cache import cache_root
from monitor.model.manifest import MANIFEST
from monitor.model.params import HALF_SUFFIX, widen
from monitor.model.registry import ModelRegistry
from monitor.settings import Settings

__all__ = ["BUNDLED_NAME", "BUNDLED_VERSION", "bundled_model_dir", "registry_for", "unpack"]

BUNDLED_NAME = "bundled_model"
BUNDLED_VERSION = "bundled"  # the manifest's version; seeding registers it as the next vN
PARAMS = "inference.pdiparams"


def unpack(shipped: Path, cache: Path) -> Path:
    """A serving directory for the shipped model ``shipped``: itself when it holds float32
    weights, else a copy under ``cache`` with the float16 weights widened (made once, by
    rename, so a concurrent or interrupted unpack is never taken for a complete one)."""
    half = shipped / (PARAMS + HALF_SUFFIX)
    if (shipped / PARAMS).is_file() or not half.is_file():
        return shipped
    digest = hashlib.sha256((shipped / MANIFEST).read_bytes())
    digest.update(str(half.stat().st_size).encode())
    target = cache / "bundled" / digest.hexdigest()[:16]
    if (target / PARAMS).is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    staged = Path(tempfile.mkdtemp(prefix=".unpack-", dir=target.parent))
    try:
        for item in shipped.iterdir():
            if item.is_file() and item != half:
                shutil.copy2(item, staged / item.name)
        widen(half, staged / PARAMS)
        try:
            os.rename(staged, target)
        except OSError:  # another process unpacked it first
            if not (target / PARAMS).is_file():
                raise
    finally:
        shutil.rmtree(staged, ignore_errors=True)
    return target


def bundled_model_dir() -> Path | None:
    """The bundled model, ready to serve, or None in a build without it."""
    path = Path(str(files("monitor").joinpath(BUNDLED_NAME)))
    if not (path / MANIFEST).is_file():
        return None
    return unpack(path, cache_root())


def registry_for(settings: Settings) -> ModelRegistry:
    """The settings' registry, seeded with the bundled model when empty (unless
    ``registry.bundled`` is off)."""
    seed = bundled_model_dir() if settings.registry.bundled else None
    return ModelRegistry(settings.registry_root, seed=seed)
