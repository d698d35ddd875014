"""Training recipes: several labelled sources and labelling rules in one TOML file.

    task = "lovelorn"
    [holdout]                       # an evaluation set: its ids and texts never reach training
    labels = "../shared/data/lovelorn_dev.tsv"
    corpus = "../shared/data/ocemotion/train.tsv"

    [[sources]]                     # earlier sources win when the same text repeats
    name = "hand labels"
    path = "labels.tsv"
    weight = 10

    [[sources]]
    name = "sad + romance cue"
    path = "../shared/data/ocemotion/train.tsv"
    columns = ["id", "text", "emotion"]
    where = { emotion = ["sadness"] }
    rule = "romance_cue"
    label = 1

    [trainer]                       # optional: how to train (command-line options win)
    teacher = "char-ngram"

Relative paths are relative to the current directory, like ``--data``.
"""

from __future__ import annotations

import csv
import tomllib
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from monitor.settings import TrainerSettings
from trainer.data.examples import Example
from trainer.data.holdout import Exclusion, combine_sources
from trainer.data.sources import LoadReport, SourceSpec
from trainer.errors import DataError

__all__ = ["Recipe", "load_recipe"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TextsFrom(_Strict):
    """Where the texts of an id-only labels file live (joined on ``id``)."""

    path: Path
    columns: list[str] | None = None
    id_column: str = "id"
    text_column: str = "text"

    def spec(self) -> SourceSpec:
        columns = tuple(self.columns) if self.columns else None
        return SourceSpec(
            self.path, text_column=self.text_column, id_column=self.id_column, columns=columns
        )


class RecipeSource(_Strict):
    name: str
    path: Path
    format: Literal["auto", "csv", "tsv", "jsonl"] = "auto"
    columns: list[str] | None = None
    text_column: str = "text"
    label_column: str = "label"
    id_column: str | None = None
    label_map: dict[str, Literal[0, 1]] | None = None
    where: dict[str, list[str]] | None = None
    rule: str | None = None
    label: Literal[0, 1] | None = None
    weight: Annotated[float, Field(gt=0)] = 1.0
    texts_from: TextsFrom | None = None

    def spec(self) -> SourceSpec:
        id_column = self.id_column or ("id" if self.columns and "id" in self.columns else None)
        return SourceSpec(
            path=self.path,
            text_column=self.text_column,
            label_column=self.label_column,
            id_column=id_column,
            columns=tuple(self.columns) if self.columns else None,
            label_map=dict(self.label_map) if self.label_map else None,
            weight=self.weight,
            name=self.name,
            format=self.format,
            where={k: tuple(v) for k, v in self.where.items()} if self.where else None,
            rule=self.rule,
            label=self.label,
            texts_from=self.texts_from.spec() if self.texts_from else None,
        )


class UnlabelledSource(_Strict):
    """Texts without labels, for a registry-version teacher to score (``teacher = "vN"``)."""

    name: str
    path: Path
    format: Literal["auto", "csv", "tsv", "jsonl"] = "auto"
    columns: list[str] | None = None
    text_column: str = "text"
    id_column: str | None = None
    where: dict[str, list[str]] | None = None

    def spec(self) -> SourceSpec:
        """A labelled source's spec with a placeholder label (the teacher's score replaces it)."""
        named = self.model_dump() | {"name": f"{self.name} (unlabelled)", "label": 0}
        return RecipeSource.model_validate(named).spec()


class Holdout(_Strict):
    """A labels file with an ``id`` column, and the corpus its ids point into (to exclude
    the same texts wherever else they appear)."""

    labels: Path
    id_column: str = "id"
    corpus: Path | None = None
    corpus_columns: list[str] = ["id", "text", "label"]


class Recipe(_Strict):
    task: str = "lovelorn"
    description: str = ""
    holdout: Holdout | None = None
    sources: Annotated[list[RecipeSource], Field(min_length=1)]
    unlabelled: list[UnlabelledSource] = []
    # How to train on these sources; command-line options win over it. Validated on load;
    # only the settings the recipe names override the caller's.
    trainer: TrainerSettings = TrainerSettings()

    def trainer_settings(self, base: TrainerSettings) -> TrainerSettings:
        named = self.trainer.model_dump(include=self.trainer.model_fields_set)
        return base.model_copy(update=named)

    def examples(
        self, exclusion: Exclusion | None = None
    ) -> tuple[list[Example], list[LoadReport]]:
        """The training rows of every source, combined, with the holdout (``exclusion``, read
        from the recipe when not given) kept out."""
        held_out = self.exclusion() if exclusion is None else exclusion
        return combine_sources([s.spec() for s in self.sources], held_out)

    def unlabelled_examples(
        self, exclusion: Exclusion, labelled: list[Example]
    ) -> tuple[list[Example], list[LoadReport]]:
        """The unlabelled texts, without the holdout and without any labelled text (so none
        of validation or test reaches training through the teacher)."""
        if not self.unlabelled:
            return [], []
        rows, reports = combine_sources([u.spec() for u in self.unlabelled], exclusion)
        known = {e.text for e in labelled}
        kept = [e for e in rows if e.text not in known]
        for report in reports:
            report.shadowed += sum(1 for e in rows if e.source == report.source and e.text in known)
            report.kept = sum(1 for e in kept if e.source == report.source)
            report.classes = {}
        return kept, reports

    def exclusion(self) -> Exclusion:
        if self.holdout is None:
            return Exclusion()
        ids = set(_column(self.holdout.labels, self.holdout.id_column))
        texts: list[str] = []
        if self.holdout.corpus is not None:
            id_at, text_at = (
                self.holdout.corpus_columns.index("id"),
                self.holdout.corpus_columns.index("text"),
            )
            with _open(self.holdout.corpus) as handle:
                texts = [
                    row[text_at]
                    for row in csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
                    if len(row) > max(id_at, text_at) and row[id_at] in ids
                ]
            if not texts:
                raise DataError(f"none of the holdout ids occur in {self.holdout.corpus}")
        return Exclusion.of(ids, texts)


def _open(path: Path):  # type: ignore[no-untyped-def]
    if not path.is_file():
        raise DataError(f"{path} does not exist")
    return path.open(encoding="utf-8", newline="")


def _column(path: Path, column: str) -> list[str]:
    with _open(path) as handle:
        reader = csv.DictReader(handle, delimiter="\t" if path.suffix != ".csv" else ",")
        if column not in (reader.fieldnames or []):
            raise DataError(f"{path}: no {column!r} column")
        return [row[column] for row in reader]


def load_recipe(path: Path) -> Recipe:
    if not path.is_file():
        raise DataError(f"recipe {path} does not exist")
    try:
        return Recipe.model_validate(tomllib.loads(path.read_text(encoding="utf-8")))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise DataError(f"recipe {path} is not valid TOML: {exc}") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise DataError(f"recipe {path}: {where}: {first['msg']}") from None
