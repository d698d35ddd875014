"""The unlabelled pretraining corpus: every source's texts, cleaned as the scorer cleans them,
deduplicated, with the evaluation set held out, and a small stable slice kept for held-out MLM
figures.

Pretraining reads far more text than fine-tuning, so it is where an evaluation text would most
easily slip in unnoticed (OCEMOTION holds the dev texts; a repost of one could sit in any other
corpus). It therefore takes the same ``Exclusion`` as ``lovelorn train`` (ids and normalised
texts of a recipe's ``[holdout]``), and dedupes on the same normalised key.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from monitor.text import clean_text
from trainer.data import Exclusion, SourceSpec, read_rows

__all__ = ["Corpus", "CorpusReport", "build_corpus", "is_held_out"]


@dataclass
class CorpusReport:
    """What each source gave and lost; counts only, no text (safe to commit or print)."""

    source: str
    rows: int = 0
    empty: int = 0
    excluded: int = 0
    duplicate: int = 0
    kept: int = 0


@dataclass
class Corpus:
    train: list[str]
    held_out: list[str]
    reports: list[CorpusReport] = field(default_factory=list)
    exclusion_size: int = 0

    def summary(self) -> dict[str, Any]:
        return {
            "train_texts": len(self.train),
            "held_out_texts": len(self.held_out),
            "train_chars": sum(map(len, self.train)),
            "excluded_ids_and_texts": self.exclusion_size,
            "sources": [asdict(r) for r in self.reports],
        }


def is_held_out(key: str, fraction: float) -> bool:
    """A text's place in the held-out slice depends on its normalised key alone, so the slice
    stays the same whatever the file order or the other sources (and across resumes)."""
    digest = hashlib.sha256(key.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < fraction


def build_corpus(
    sources: Sequence[SourceSpec],
    exclusion: Exclusion,
    *,
    held_out_fraction: float = 0.01,
    texts: Iterable[tuple[str, str]] = (),
) -> Corpus:
    """Read every source's text column (labels are ignored), ``clean_text`` it, drop empty
    texts, texts the ``exclusion`` covers (by id or normalised text) and repeats of an earlier
    text (by the same normalised key). ``texts`` adds (id, text) pairs from memory (tests)."""
    seen: set[str] = set()
    train: list[str] = []
    held_out: list[str] = []
    reports: list[CorpusReport] = []

    def add(report: CorpusReport, ident: str, raw: object) -> None:
        report.rows += 1
        text = clean_text(raw) if isinstance(raw, str) else ""
        if not text:
            report.empty += 1
            return
        if exclusion.covers(ident, text):
            report.excluded += 1
            return
        key = Exclusion.key(text)
        if key in seen:
            report.duplicate += 1
            return
        seen.add(key)
        report.kept += 1
        (held_out if is_held_out(key, held_out_fraction) else train).append(text)

    for spec in sources:
        report = CorpusReport(spec.source_name)
        for row in read_rows(spec):
            ident = str(row.get(spec.id_column, "")) if spec.id_column else ""
            add(report, ident, row.get(spec.text_column))
        reports.append(report)
    extra = CorpusReport("in-memory texts")
    for ident, text in texts:
        add(extra, ident, text)
    if extra.rows:
        reports.append(extra)
    return Corpus(train, held_out, reports, len(exclusion))
