"""A registry version as teacher: its scores on every training text become soft targets.

Scoring 120k texts with the pretrained encoder takes about half an hour on two cores, so the
scores are cached beside the teacher (one ``sha1<TAB>score`` line per text, appended in
chunks): a run stopped half way goes on where it stopped, and a second student trained from
the same teacher reads them back in seconds.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from trainer.data.examples import Example

__all__ = ["ScoreFn", "TeacherScores", "with_teacher_targets"]

ScoreFn = Callable[[Sequence[str]], Sequence[float]]

CHUNK = 512


def _key(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


class TeacherScores:
    """Scores of one teacher, cached in ``path`` and computed with ``score`` when missing."""

    def __init__(self, path: Path, score: ScoreFn) -> None:
        self.path = path
        self._score = score
        self._known: dict[str, float] = {}
        if path.is_file():
            for line in path.read_text(encoding="utf-8").splitlines():
                key, _, value = line.partition("\t")
                if value:  # a line cut short by a crash is scored again
                    self._known[key] = float(value)

    def __len__(self) -> int:
        return len(self._known)

    def of(self, texts: Sequence[str], *, progress: bool = True) -> np.ndarray:
        """The teacher's score of each text, scoring (and caching) the ones not seen yet."""
        keys = [_key(t) for t in texts]
        todo = {k: t for k, t in zip(keys, texts, strict=True) if k not in self._known}
        missing = sorted(todo.items(), key=lambda kt: len(kt[1]))  # less padding per batch
        self.path.parent.mkdir(parents=True, exist_ok=True)
        bar = tqdm(
            total=len(missing),
            desc="teacher scores",
            unit="text",
            disable=not progress or not missing,
        )
        with self.path.open("a", encoding="utf-8") as out:
            for start in range(0, len(missing), CHUNK):
                chunk = missing[start : start + CHUNK]
                scores = self._score([t for _, t in chunk])
                out.write(
                    "".join(f"{k}\t{s:.6f}\n" for (k, _), s in zip(chunk, scores, strict=True))
                )
                out.flush()
                self._known.update((k, float(s)) for (k, _), s in zip(chunk, scores, strict=True))
                bar.update(len(chunk))
        bar.close()
        return np.array([self._known[k] for k in keys], dtype=np.float64)


def with_teacher_targets(
    train: Sequence[Example],
    unlabelled: Sequence[Example],
    scores: TeacherScores,
    threshold: float,
    *,
    progress: bool = True,
) -> tuple[list[Example], dict[str, Any]]:
    """Every training row with ``target`` = the teacher's score, the unlabelled rows added.

    Unlabelled rows carry the teacher's decision at its own ``threshold`` as ``label`` only
    so that class balancing and negative sampling have something to count; they never reach
    validation or test, whose labels stay the annotators'.
    """
    rows = list(train) + list(unlabelled)
    targets = scores.of([e.text for e in rows], progress=progress)
    out = [
        replace(e, target=float(t), label=e.label if i < len(train) else int(t >= threshold))
        for i, (e, t) in enumerate(zip(rows, targets, strict=True))
    ]
    labels = np.array([e.label for e in train])
    own = targets[: len(train)]
    report = {
        "kind": "registry version (its calibrated scores)",
        "labelled_rows": len(train),
        "unlabelled_rows": len(unlabelled),
        "unlabelled_above_threshold": int(sum(e.label for e in out[len(train) :])),
        "mean_target": {
            "lovelorn": float(own[labels == 1].mean()) if (labels == 1).any() else None,
            "normal": float(own[labels == 0].mean()) if (labels == 0).any() else None,
            "unlabelled": float(targets[len(train) :].mean()) if unlabelled else None,
        },
    }
    return out, report
