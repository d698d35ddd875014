"""Labelled comments from CSV/TSV/JSONL files into clean, deduplicated, split examples.

The text goes through ``monitor.text.clean_text`` — the function the scorer applies —
so training and serving see the same text. Cleaning follows the paper: drop empty and
duplicate texts. The split is stratified 8:1:1 and seeded, and is written beside the
model so anyone can audit which text was in which part.
"""

from __future__ import annotations

import csv
import hashlib
import json
import random
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from monitor.text import clean_text

__all__ = [
    "DataError",
    "Dataset",
    "Example",
    "Exclusion",
    "LoadReport",
    "SourceSpec",
    "combine_sources",
    "data_hash",
    "load_source",
    "parse_label_map",
    "split_stratified",
]

MIN_PER_CLASS = 10
csv.field_size_limit(10_000_000)


class DataError(Exception):
    """A problem with the user's data file; its message is shown as one line."""


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
class SourceSpec:
    """How to read one labelled file.

    ``columns`` names the columns of a header-less CSV/TSV (e.g. ``id,text,label`` for
    OCEMOTION). ``label_map`` maps raw labels to 0/1; labels missing from it are dropped.
    Without a map, labels must already be 0/1 (or "0"/"1").

    Weak sources: ``where`` keeps rows whose column has one of the listed values,
    ``rule`` keeps rows a labelling function accepts (``"not:NAME"`` negates), and
    ``label`` gives every kept row that label instead of reading the label column.
    """

    path: Path
    text_column: str = "text"
    label_column: str = "label"
    id_column: str | None = None
    columns: tuple[str, ...] | None = None
    label_map: dict[str, int] | None = None
    weight: float = 1.0
    name: str | None = None
    format: Literal["auto", "csv", "tsv", "jsonl"] = "auto"
    where: dict[str, tuple[str, ...]] | None = None
    rule: str | None = None
    label: int | None = None
    texts_from: SourceSpec | None = None  # labels keyed by id, texts looked up in another file

    @property
    def source_name(self) -> str:
        return self.name or self.path.stem


@dataclass
class LoadReport:
    """What one source contributed, and what was dropped on the way."""

    source: str
    rows: int = 0
    kept: int = 0
    filtered: int = 0
    unmapped_label: int = 0
    empty: int = 0
    duplicate: int = 0
    conflicting: int = 0
    excluded: int = 0
    shadowed: int = 0  # same text already supplied by an earlier source
    weight: float = 1.0
    classes: dict[int, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in vars(self).items()} | {
            "classes": {str(k): v for k, v in self.classes.items()}
        }


def parse_label_map(text: str | None) -> dict[str, int] | None:
    """``"sadness=1,happiness=0"`` → ``{"sadness": 1, "happiness": 0}``."""
    if not text:
        return None
    mapping: dict[str, int] = {}
    for part in text.split(","):
        raw, sep, value = part.partition("=")
        if not sep or value.strip() not in ("0", "1") or not raw.strip():
            raise DataError(f"label map entry {part!r} is not NAME=0 or NAME=1")
        mapping[raw.strip()] = int(value)
    if set(mapping.values()) != {0, 1}:
        raise DataError("the label map must send at least one label to 1 and one to 0")
    return mapping


def _format(spec: SourceSpec) -> str:
    if spec.format != "auto":
        return spec.format
    suffix = spec.path.suffix.lower()
    if suffix in (".jsonl", ".json", ".ndjson"):
        return "jsonl"
    if suffix in (".tsv", ".tab", ".txt"):
        return "tsv"
    return "csv"


def read_rows(spec: SourceSpec) -> Iterator[dict[str, Any]]:
    if not spec.path.is_file():
        raise DataError(f"data file {spec.path} does not exist")
    fmt = _format(spec)
    try:
        with spec.path.open(encoding="utf-8-sig", newline="") as handle:
            if fmt == "jsonl":
                for number, line in enumerate(handle, 1):
                    if not line.strip():
                        continue
                    try:
                        row = json.loads(line)
                    except json.JSONDecodeError as exc:
                        raise DataError(
                            f"{spec.path}:{number}: not a JSON line ({exc.msg})"
                        ) from None
                    if not isinstance(row, dict):
                        raise DataError(f"{spec.path}:{number}: expected a JSON object per line")
                    yield row
                return
            delimiter = "\t" if fmt == "tsv" else ","
            reader = (
                csv.DictReader(
                    handle,
                    fieldnames=list(spec.columns),
                    delimiter=delimiter,
                    quoting=csv.QUOTE_NONE if fmt == "tsv" else csv.QUOTE_MINIMAL,
                )
                if spec.columns
                else csv.DictReader(
                    handle,
                    delimiter=delimiter,
                    quoting=csv.QUOTE_NONE if fmt == "tsv" else csv.QUOTE_MINIMAL,
                )
            )
            for row in reader:
                yield row
    except UnicodeDecodeError as exc:
        raise DataError(
            f"{spec.path} is not UTF-8 text ({exc.reason} at byte {exc.start})"
        ) from None
    except csv.Error as exc:
        raise DataError(f"{spec.path} is not valid {fmt.upper()}: {exc}") from None


def _label(raw: Any, mapping: dict[str, int] | None) -> int | None:
    key = str(raw).strip() if raw is not None else ""
    if mapping is not None:
        return mapping.get(key)
    if key in ("0", "1"):
        return int(key)
    if key.lower() in ("true", "false"):
        return int(key.lower() == "true")
    raise DataError(
        f"label {key!r} is not 0/1: pass a label map such as --label-map sadness=1,happiness=0"
    )


def _texts_by_id(spec: SourceSpec) -> dict[str, str]:
    id_column = spec.id_column or "id"
    texts = {str(row.get(id_column)): row.get(spec.text_column) for row in read_rows(spec)}
    if not texts:
        raise DataError(f"{spec.path} holds no rows to take texts from")
    return {k: v for k, v in texts.items() if isinstance(v, str)}


def load_source(
    spec: SourceSpec, exclusion: Exclusion | None = None
) -> tuple[list[Example], LoadReport]:
    """Read, filter, label, clean and deduplicate one file.

    Conflicting duplicates (same text, both labels) are dropped; rows the ``exclusion``
    names (held-out evaluation ids or texts) never get in.
    """
    from trainer.labelling import labelling_function

    accept = labelling_function(spec.rule) if spec.rule else None
    lookup = _texts_by_id(spec.texts_from) if spec.texts_from is not None else None
    if lookup is not None and not spec.id_column:
        raise DataError(f"{spec.source_name}: texts_from needs an id column to join on")
    report = LoadReport(spec.source_name, weight=spec.weight)
    by_text: dict[str, Example] = {}
    conflicts: set[str] = set()
    checked_columns = False
    for row in read_rows(spec):
        if not checked_columns:
            needed = (
                None if lookup is not None else spec.text_column,
                None if spec.label is not None else spec.label_column,
                spec.id_column,
            )
            missing = [c for c in (*needed, *(spec.where or {})) if c and c not in row]
            if missing:
                raise DataError(
                    f"{spec.path}: missing column(s) {', '.join(missing)}; found {', '.join(map(str, row))}"
                )
            checked_columns = True
        report.rows += 1
        if spec.where and any(
            str(row.get(col, "")) not in values for col, values in spec.where.items()
        ):
            report.filtered += 1
            continue
        label = (
            spec.label
            if spec.label is not None
            else _label(row.get(spec.label_column), spec.label_map)
        )
        if label is None:
            report.unmapped_label += 1
            continue
        raw_text = (
            lookup.get(str(row.get(spec.id_column)))
            if lookup is not None
            else row.get(spec.text_column)
        )
        text = clean_text(raw_text) if isinstance(raw_text, str) else ""
        if not text:
            report.empty += 1
            continue
        ident = str(row.get(spec.id_column, "")) if spec.id_column else ""
        if exclusion is not None and exclusion.covers(ident, text):
            report.excluded += 1
            continue
        if accept is not None and not accept(text):
            report.filtered += 1
            continue
        if text in by_text:
            report.duplicate += 1
            if by_text[text].label != label:
                conflicts.add(text)
            continue
        by_text[text] = Example(text, label, spec.weight, spec.source_name, ident)
    if report.rows == 0:
        raise DataError(f"{spec.path} holds no rows")
    report.conflicting = len(conflicts)
    examples = [e for t, e in by_text.items() if t not in conflicts]
    report.kept = len(examples)
    report.classes = dict(sorted(Counter(e.label for e in examples).items()))
    return examples, report


@dataclass(frozen=True)
class Exclusion:
    """Ids and texts that must never be trained on (a held-out evaluation set).

    Texts are compared after ``clean_text`` and with whitespace removed, so the same
    comment copied into another source (or reposted) is caught too.
    """

    ids: frozenset[str] = frozenset()
    texts: frozenset[str] = frozenset()

    @staticmethod
    def key(text: str) -> str:
        return "".join(clean_text(text).split()).lower()

    @classmethod
    def of(cls, ids: Iterable[str], texts: Iterable[str]) -> Exclusion:
        return cls(frozenset(ids), frozenset(cls.key(t) for t in texts))

    def covers(self, ident: str, text: str) -> bool:
        return (bool(ident) and ident in self.ids) or self.key(text) in self.texts

    def __len__(self) -> int:
        return len(self.ids | self.texts)


def combine_sources(
    specs: Sequence[SourceSpec], exclusion: Exclusion | None = None
) -> tuple[list[Example], list[LoadReport]]:
    """Several sources into one training set; earlier sources win when a text repeats.

    List hand labels before weak labels: a text a person labelled keeps that label and
    weight, and the weak copy is counted as ``shadowed`` in the later source's report.
    """
    taken: dict[str, Example] = {}
    reports = []
    for spec in specs:
        examples, report = load_source(spec, exclusion)
        fresh = [e for e in examples if e.text not in taken]
        report.shadowed = len(examples) - len(fresh)
        report.kept = len(fresh)
        report.classes = dict(sorted(Counter(e.label for e in fresh).items()))
        taken.update((e.text, e) for e in fresh)
        reports.append(report)
    return list(taken.values()), reports


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
