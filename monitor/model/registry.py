"""Model registry: immutable version directories plus one atomically switched pointer.

    <root>/versions/v3/          inference.json, inference.pdiparams, vocab.txt, manifest.json, report/
    <root>/CURRENT               "v3"   (replaced with os.replace: readers see old or new, never half)
    <root>/history.jsonl         every promotion and rollback, for audit and rollback

A registry that holds no version yet is seeded with the model bundled in the package
(``seed``), so a fresh install classifies without a training step. Promotion is announced
on Redis (``monitor.store.announce``) so running scorers swap without a restart; scorers
also notice a changed pointer on their own, so a missed announcement only delays the swap.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ValidationError

from monitor.errors import ModelNotFound, PromotionRefused, RegistryError
from monitor.model.manifest import MANIFEST, CascadePlan, Manifest, PrecisionGate
from monitor.schemas import utcnow

__all__ = ["MIN_RANKING_AUC", "ModelRegistry", "Promotion"]

_VERSION = re.compile(r"v(\d+)")
# A model whose validation scores barely rank lovelorn above normal texts is not a detector.
MIN_RANKING_AUC = 0.6


class Promotion(BaseModel):
    action: Literal["promote", "rollback"]
    version: str
    previous: str | None
    at: datetime
    forced: bool = False


class ModelRegistry:
    def __init__(self, root: Path, *, seed: Path | None = None) -> None:
        self.root = root
        self.versions_dir = root / "versions"
        self._pointer = root / "CURRENT"
        self._history = root / "history.jsonl"
        self._seed = seed

    def _seeded(self) -> None:
        """Install the bundled model as v1 (promoted) when the registry holds no version."""
        if self._seed is None or self._has_versions():
            return
        staged = self.root / f".seed-{os.getpid()}-{time.monotonic_ns()}"
        shutil.copytree(self._seed, staged)
        try:
            fields = json.loads((staged / MANIFEST).read_text(encoding="utf-8"))
            (staged / MANIFEST).unlink()
            for key in ("version", "created_at"):
                fields.pop(key, None)
            manifest = self.register(staged, fields)
        finally:
            shutil.rmtree(staged, ignore_errors=True)
        if self.current() is None:
            self._switch("promote", manifest.version, None, False)

    def _has_versions(self) -> bool:
        return self.versions_dir.is_dir() and any(
            _VERSION.fullmatch(p.name) for p in self.versions_dir.iterdir()
        )

    # -- reading -------------------------------------------------------------
    def versions(self) -> list[str]:
        self._seeded()
        if not self.versions_dir.is_dir():
            return []
        found = [
            p.name
            for p in self.versions_dir.iterdir()
            if _VERSION.fullmatch(p.name) and (p / MANIFEST).is_file()
        ]
        return sorted(found, key=lambda v: int(v[1:]))

    def current(self) -> str | None:
        self._seeded()
        try:
            return self._pointer.read_text().strip() or None
        except FileNotFoundError:
            return None

    def resolve(self, version: str = "current") -> str:
        self._seeded()  # a fresh registry holds the bundled model as v1 before any lookup
        if version in ("current", "", None):
            current = self.current()
            if current is None:
                raise ModelNotFound(
                    f"no model promoted in {self.root}: run `lovelorn train` (it registers and promotes "
                    "the first model) or `lovelorn models promote VERSION`"
                )
            return current
        if not (self.versions_dir / version / MANIFEST).is_file():
            known = ", ".join(self.versions()) or "none"
            raise ModelNotFound(
                f"model version {version!r} not found in {self.versions_dir} (known: {known})"
            )
        return version

    def path(self, version: str = "current") -> Path:
        return self.versions_dir / self.resolve(version)

    def manifest(self, version: str = "current") -> Manifest:
        path = self.path(version) / MANIFEST
        try:
            return Manifest.model_validate_json(path.read_bytes())
        except (OSError, ValidationError) as exc:
            raise RegistryError(f"unreadable manifest {path}: {exc}") from None

    def history(self) -> list[Promotion]:
        if not self._history.is_file():
            return []
        return [
            Promotion.model_validate_json(line)
            for line in self._history.read_text().splitlines()
            if line
        ]

    # -- writing -------------------------------------------------------------
    def register(self, staged: Path, manifest_fields: dict[str, Any]) -> Manifest:
        """Move a staged export directory in as the next version and write its manifest."""
        self.versions_dir.mkdir(parents=True, exist_ok=True)
        for _ in range(100):
            version = f"v{self._next_number()}"
            target = self.versions_dir / version
            try:
                target.mkdir()
            except FileExistsError:
                continue  # another trainer took this number
            break
        else:  # pragma: no cover
            raise RegistryError(f"could not allocate a version in {self.versions_dir}")
        try:
            for item in staged.iterdir():
                shutil.move(str(item), target / item.name)
            manifest = Manifest(version=version, created_at=utcnow(), **manifest_fields)
            _atomic_write(target / MANIFEST, manifest.model_dump_json(indent=2))
        except BaseException:
            shutil.rmtree(target, ignore_errors=True)
            raise
        return manifest

    def record_gates(self, version: str, gates: dict[str, PrecisionGate]) -> Manifest:
        """Replace a version's precision gates (measured again, e.g. on another CPU)."""
        resolved = self.resolve(version)
        manifest = self.manifest(resolved).model_copy(update={"precision_gates": gates})
        _atomic_write(self.path(resolved) / MANIFEST, manifest.model_dump_json(indent=2))
        return manifest

    def record_cascade(self, version: str, plan: CascadePlan) -> Manifest:
        """Record the fast first stage (and its band) that may serve in front of ``version``."""
        resolved = self.resolve(version)
        manifest = self.manifest(resolved).model_copy(update={"cascade": plan})
        _atomic_write(self.path(resolved) / MANIFEST, manifest.model_dump_json(indent=2))
        return manifest

    def promote(self, version: str, *, margin: float, force: bool = False) -> Promotion:
        """Point CURRENT at ``version`` unless the gate refuses: validation scores that do not
        rank (AUC below MIN_RANKING_AUC), or a test macro-F1 at the serving threshold that
        trails the current model's by more than ``margin``. ``force`` skips the gate."""
        version = self.resolve(version)
        previous = self.current()
        if previous == version:
            raise PromotionRefused(f"{version} is already the current model")
        if not force:
            candidate = self.manifest(version)
            auc = candidate.metrics.get("validation_ranking", {}).get("auc")
            if isinstance(auc, (int, float)) and auc < MIN_RANKING_AUC:
                raise PromotionRefused(
                    f"{version} does not tell lovelorn from normal texts (validation AUC {auc:.2f} "
                    f"< {MIN_RANKING_AUC}); pass --force to promote anyway"
                )
            new_f1 = candidate.served_metric()
            old_f1 = self.manifest(previous).served_metric() if previous else None
            if new_f1 is not None and old_f1 is not None and new_f1 < old_f1 - margin:
                raise PromotionRefused(
                    f"{version} test macro-F1 {new_f1:.4f} (at its serving threshold) is worse than "
                    f"current {previous} {old_f1:.4f} by more than {margin}; pass --force to promote anyway"
                )
        return self._switch("promote", version, previous, force)

    def rollback(self) -> Promotion:
        """Go back to the version that was current before the present one."""
        current = self.current()
        earlier = [
            p.previous
            for p in self.history()
            if p.action == "promote" and p.version == current and p.previous
        ]
        if current is None or not earlier:
            raise PromotionRefused("nothing to roll back to: no earlier promoted version")
        return self._switch("rollback", self.resolve(earlier[-1]), current, True)

    def _switch(
        self,
        action: Literal["promote", "rollback"],
        version: str,
        previous: str | None,
        forced: bool,
    ) -> Promotion:
        self.root.mkdir(parents=True, exist_ok=True)
        _atomic_write(self._pointer, version + "\n")
        event = Promotion(
            action=action, version=version, previous=previous, at=utcnow(), forced=forced
        )
        with self._history.open("a", encoding="utf-8") as out:
            out.write(event.model_dump_json() + "\n")
        return event

    def _next_number(self) -> int:
        numbers = [
            int(m.group(1))
            for p in self.versions_dir.iterdir()
            if (m := _VERSION.fullmatch(p.name))
        ]
        return max(numbers, default=0) + 1


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{time.monotonic_ns()}.tmp")
    with tmp.open("w", encoding="utf-8") as out:
        out.write(text)
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, path)
