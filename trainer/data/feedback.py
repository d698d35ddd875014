"""Reviewers' verdicts (``lovelorn feedback export``) as a labelled training source.

The export is JSONL with ``text``, ``verdict`` and ``comment_id``, which the ordinary
reader takes with a label map: lovelorn → 1, not_lovelorn → 0, and unsure stays unmapped,
so it is dropped (and counted as ``unmapped_label`` in the source report). In a recipe:

    [[sources]]                     # list it first: a person's verdict beats weak labels
    name = "reviewer verdicts"
    path = "verdicts.jsonl"
    label_column = "verdict"
    id_column = "comment_id"
    label_map = { lovelorn = 1, not_lovelorn = 0 }
    weight = 3

``feedback_source`` builds the same ``SourceSpec`` in code.
"""

from __future__ import annotations

from pathlib import Path

from trainer.data.sources import SourceSpec

__all__ = ["FEEDBACK_LABEL_MAP", "feedback_source"]

FEEDBACK_LABEL_MAP = {"lovelorn": 1, "not_lovelorn": 0}


def feedback_source(
    path: Path, *, weight: float = 1.0, name: str = "reviewer verdicts"
) -> SourceSpec:
    return SourceSpec(
        path,
        text_column="text",
        label_column="verdict",
        id_column="comment_id",
        label_map=dict(FEEDBACK_LABEL_MAP),
        weight=weight,
        name=name,
        format="jsonl",
    )
