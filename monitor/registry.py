"""Model registry: immutable version directories plus one atomically switched pointer.

    <root>/versions/v3/          inference.json, inference.pdiparams, vocab.txt, manifest.json, report/
    <root>/CURRENT               "v3"   (replaced with os.replace: readers see old or new, never half)
    <root>/history.jsonl         every promotion and rollback, for audit and rollback

Promotion is announced on a Redis channel so running scorers swap without a restart;
scorers also notice a changed pointer on their own, so a missed announcement only delays
the swap.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError
from redis.asyncio import Redis

from monitor.errors import ModelNotFound, PromotionRefused, RegistryError
from monitor.schemas import utcnow

__all__ = [
    "Manifest",
    "ModelRegistry",
    "PRPoint",
    "Promotion",
    "announce",
    "announcement_channel",
    "policy_threshold",
    "threshold_for_precision",
]

MANIFEST = "manifest.json"
_VERSION = re.compile(r"v(\d+)")


class PRPoint(BaseModel):
    """One point of the validation precision–recall curve, used to turn policies into thresholds."""

    model_config = ConfigDict(frozen=True)
    threshold: float
    precision: float
    recall: float


class Manifest(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    version: str
    created_at: AwareDatetime
    base_model: str
    task: str = "lovelorn"
    labels: list[str] = ["normal", "lovelorn"]
    max_seq_len: int
    threshold: float = Field(ge=0, le=1)
    threshold_rule: str = "max validation F1"
    data_hash: str
    split_sizes: dict[str, int] = {}
    metrics: dict[str, Any] = {}
    validation_pr: list[PRPoint] = []
    files: dict[str, str] = {}
    notes: str = ""


def policy_threshold(
    curve: Sequence[PRPoint], min_precision: float, default: float
) -> tuple[float, bool]:
    """An alert policy's threshold and whether it reaches ``min_precision``. When no threshold
    does, the strictest one seen (``default`` on an empty curve): a consumer that asks for
    precision would rather get too few alerts than a lenient threshold's flood."""
    found = threshold_for_precision(curve, min_precision)
    if found is not None:
        return found, True
    return max((p.threshold for p in curve), default=default), False


def threshold_for_precision(curve: Sequence[PRPoint], min_precision: float) -> float | None:
    """The threshold with the most validation recall among those reaching ``min_precision``
    (the higher threshold on ties); None when no threshold gets there."""
    reaching = [p for p in curve if p.precision >= min_precision]
    if not reaching:
        return None
    return max(reaching, key=lambda p: (p.recall, p.threshold)).threshold


class Promotion(BaseModel):
    action: Literal["promote", "rollback"]
    version: str
    previous: str | None
    at: datetime
    forced: bool = False


class ModelRegistry:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.versions_dir = root / "versions"
        self._pointer = root / "CURRENT"
        self._history = root / "history.jsonl"

    # -- reading -------------------------------------------------------------
    def versions(self) -> list[str]:
        if not self.versions_dir.is_dir():
            return []
        found = [
            p.name
            for p in self.versions_dir.iterdir()
            if _VERSION.fullmatch(p.name) and (p / MANIFEST).is_file()
        ]
        return sorted(found, key=lambda v: int(v[1:]))

    def current(self) -> str | None:
        try:
            return self._pointer.read_text().strip() or None
        except FileNotFoundError:
            return None

    def resolve(self, version: str = "current") -> str:
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

    def promote(self, version: str, *, margin: float, force: bool = False) -> Promotion:
        """Point CURRENT at ``version`` unless its test macro-F1 trails the current one by more than ``margin``."""
        version = self.resolve(version)
        previous = self.current()
        if previous == version:
            raise PromotionRefused(f"{version} is already the current model")
        if previous is not None and not force:
            new_f1 = _macro_f1(self.manifest(version))
            old_f1 = _macro_f1(self.manifest(previous))
            if new_f1 is not None and old_f1 is not None and new_f1 < old_f1 - margin:
                raise PromotionRefused(
                    f"{version} test macro-F1 {new_f1:.4f} is worse than current {previous} "
                    f"{old_f1:.4f} by more than {margin}; pass --force to promote anyway"
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


def _macro_f1(manifest: Manifest) -> float | None:
    value = manifest.metrics.get("test", {}).get("macro_f1")
    return float(value) if isinstance(value, (int, float)) else None


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{time.monotonic_ns()}.tmp")
    with tmp.open("w", encoding="utf-8") as out:
        out.write(text)
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, path)


def announcement_channel(key_prefix: str) -> str:
    return f"{key_prefix}models"


async def announce(redis: Redis, key_prefix: str, promotion: Promotion) -> int:
    """Publish a promotion; returns how many subscribers (running scorers) heard it."""
    return int(await redis.publish(announcement_channel(key_prefix), promotion.model_dump_json()))
