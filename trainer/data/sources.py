"""Labelled comments from CSV/TSV/JSONL files into clean, deduplicated examples.

The text goes through ``monitor.text.clean_text`` — the function the scorer applies —
so training and serving see the same text. Cleaning follows the paper: drop empty and
duplicate texts.
"""

from __future__ import annotations

import csv
import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

from monitor.text import clean_text
from trainer.data.examples import Example
from trainer.data.labelling import labelling_function
from trainer.errors import DataError


class Excludes(Protocol):
    """What loading needs of a holdout (``trainer.data.holdout.Exclusion``)."""

    def covers(self, ident: str, text: str) -> bool: ...


__all__ = ["LoadReport", "SourceSpec", "load_source", "parse_label_map", "read_rows"]

csv.field_size_limit(10_000_000)


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
    spec: SourceSpec, exclusion: Excludes | None = None
) -> tuple[list[Example], LoadReport]:
    """Read, filter, label, clean and deduplicate one file.

    Conflicting duplicates (same text, both labels) are dropped; rows the ``exclusion``
    names (held-out evaluation ids or texts) never get in.
    """
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
