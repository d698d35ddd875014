"""Options the trainer's commands share: how to read one labelled file."""

from __future__ import annotations

from pathlib import Path

import click

from trainer.data.sources import SourceSpec, parse_label_map

__all__ = ["data_options", "source_spec"]

DATA_OPTIONS = [
    click.option(
        "--data",
        "data_path",
        type=click.Path(path_type=Path),
        default=None,
        help="CSV, TSV or JSONL file.",
    ),
    click.option("--text-column", default="text", show_default=True),
    click.option("--label-column", default="label", show_default=True),
    click.option("--id-column", default=None),
    click.option(
        "--columns", default=None, help="Names for a header-less file, e.g. id,text,label."
    ),
    click.option(
        "--label-map", default=None, help="e.g. sadness=1,happiness=0 (other labels are dropped)."
    ),
    click.option(
        "--format",
        "fmt",
        type=click.Choice(["auto", "csv", "tsv", "jsonl"]),
        default="auto",
        show_default=True,
    ),
]


def data_options(func):  # type: ignore[no-untyped-def]
    for option in reversed(DATA_OPTIONS):
        func = option(func)
    return func


def source_spec(
    data_path: Path,
    text_column: str,
    label_column: str,
    id_column: str | None,
    columns: str | None,
    label_map: str | None,
    fmt: str,
):  # type: ignore[no-untyped-def]
    return SourceSpec(
        path=data_path,
        text_column=text_column,
        label_column=label_column,
        id_column=id_column,
        columns=tuple(c.strip() for c in columns.split(",")) if columns else None,
        label_map=parse_label_map(label_map),
        format=fmt,  # type: ignore[arg-type]
    )
