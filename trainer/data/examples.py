"""Labelled examples and the paper's split: stratified 8:1:1, seeded, written beside the model
so anyone can audit which text was in which part."""

from __future__ import annotations

import hashlib
import json
import random
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from trainer.errors import DataError

__all__ = ["MIN_PER_CLASS", "Dataset", "Example", "data_hash", "split_stratified"]

MIN_PER_CLASS = 10


@dataclass(frozen=True, slots=True)
class Example:
    """``target`` is a soft label in [0, 1] (a teacher's probability) that training fits
    instead of ``label``; the hard label still drives validation, thresholds and reports."""

    text: str
    label: int
    weight: float = 1.0
    source: str = "data"
    id: str = ""
    target: float | None = None


@dataclass(frozen=True)
class Dataset:
    train: list[Example]
    validation: list[Example]
    test: list[Example]

    def sizes(self) -> dict[str, int]:
        return {
            "train": len(self.train),
            "validation": len(self.validation),
            "test": len(self.test),
        }

    def balance(self) -> dict[str, dict[str, int]]:
        return {
            part: {str(k): v for k, v in sorted(Counter(e.label for e in rows).items())}
            for part, rows in (
                ("train", self.train),
                ("validation", self.validation),
                ("test", self.test),
            )
        }

    def write_split(self, path: Path) -> None:
        """The audit file: one line per example with the part it went to."""
        with path.open("w", encoding="utf-8") as out:
            for part, rows in (
                ("train", self.train),
                ("validation", self.validation),
                ("test", self.test),
            ):
                for e in rows:
                    out.write(
                        json.dumps(
                            {
                                "part": part,
                                "id": e.id,
                                "source": e.source,
                                "label": e.label,
                                "weight": e.weight,
                                "text": e.text,
                            },
                            ensure_ascii=False,
                        )
                        + "\n"
                    )


def split_stratified(
    examples: Sequence[Example], seed: int, ratios: tuple[int, int, int] = (8, 1, 1)
) -> Dataset:
    """Seeded per-class shuffle, then cut each class 8:1:1 so every part keeps the class balance."""
    by_label: dict[int, list[Example]] = defaultdict(list)
    for e in examples:
        by_label[e.label].append(e)
    if len(by_label) < 2:
        only = next(iter(by_label), None)
        raise DataError(f"the data holds a single class ({only}); need both 0 and 1")
    small = {k: len(v) for k, v in by_label.items() if len(v) < MIN_PER_CLASS}
    if small:
        raise DataError(
            f"too few rows to split 8:1:1: class counts {small} (need at least {MIN_PER_CLASS} per class)"
        )
    total = sum(ratios)
    parts: tuple[list[Example], list[Example], list[Example]] = ([], [], [])
    for label in sorted(by_label):
        rows = sorted(by_label[label], key=lambda e: (e.text, e.source))
        random.Random(f"{seed}:{label}").shuffle(rows)
        n_val = max(1, round(len(rows) * ratios[1] / total))
        n_test = max(1, round(len(rows) * ratios[2] / total))
        parts[2].extend(rows[:n_test])
        parts[1].extend(rows[n_test : n_test + n_val])
        parts[0].extend(rows[n_test + n_val :])
    rng = random.Random(seed)
    for part in parts:
        rng.shuffle(part)
    return Dataset(*parts)


def data_hash(examples: Iterable[Example]) -> str:
    digest = hashlib.sha256()
    for e in sorted(examples, key=lambda e: (e.text, e.label)):
        digest.update(f"{e.label}\t{e.weight}\t{e.text}\n".encode())
    return digest.hexdigest()[:16]
