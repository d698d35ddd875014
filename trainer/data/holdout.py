"""Keeping evaluation texts out of training, and combining several sources into one set."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from monitor.text import clean_text
from trainer.data.examples import Example
from trainer.data.sources import LoadReport, SourceSpec, load_source

__all__ = ["Exclusion", "combine_sources"]


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
