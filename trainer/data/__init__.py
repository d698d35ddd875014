"""Data: labelled sources and recipes → clean, deduplicated examples → the 8:1:1 split.

No dev text reaches training: a recipe's holdout excludes ids and normalised texts.
"""

from trainer.data.examples import Dataset, Example, data_hash, split_stratified
from trainer.data.holdout import Exclusion, combine_sources
from trainer.data.recipe import Recipe, load_recipe
from trainer.data.sources import LoadReport, SourceSpec, load_source, parse_label_map, read_rows

__all__ = [
    "Dataset",
    "Example",
    "Exclusion",
    "LoadReport",
    "Recipe",
    "SourceSpec",
    "combine_sources",
    "data_hash",
    "load_recipe",
    "load_source",
    "parse_label_map",
    "read_rows",
    "split_stratified",
]
