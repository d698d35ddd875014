"""Why a text scored as it did: occlusion over its characters.

Each run of one, two or three characters is deleted in turn and the text scored again; a
character's weight is the mean drop of the model's logit margin (lovelorn minus normal) over
the deletions that removed it. Margins, not probabilities: a probability near 0 or 1 hardly
moves, the margin does. Computed on demand for one text (about 3 × its length model calls,
one batch), so a reviewer sees which words carried the score rather than a bare number.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["Explanation", "explain"]

WINDOWS = (1, 2, 3)

LogitsFn = Callable[[Sequence[str]], np.ndarray]


@dataclass(frozen=True)
class Explanation:
    text: str
    score: float
    weights: list[float]  # one per character of ``text``; > 0 pushed the score up

    def spans(self, share: float = 0.5) -> list[tuple[int, int, float]]:
        """Runs of characters whose weight is at least ``share`` of the largest positive
        weight, strongest first: ``(start, end, mean weight)``."""
        top = max(self.weights, default=0.0)
        if top <= 0:
            return []
        found, start = [], None
        for i, w in enumerate([*self.weights, -np.inf]):
            if w >= share * top and start is None:
                start = i
            elif w < share * top and start is not None:
                found.append((start, i, float(np.mean(self.weights[start:i]))))
                start = None
        return sorted(found, key=lambda s: -s[2])

    def segments(self) -> list[tuple[str, float | None]]:
        """The text cut into runs, in order: (run, mean weight) for a span, (run, None) between."""
        out: list[tuple[str, float | None]] = []
        at = 0
        for start, end, weight in sorted(self.spans()):
            if start > at:
                out.append((self.text[at:start], None))
            out.append((self.text[start:end], weight))
            at = end
        if at < len(self.text):
            out.append((self.text[at:], None))
        return out

    def marked(self, left: str = "【", right: str = "】") -> str:
        """The text with each span bracketed."""
        return "".join(run if w is None else f"{left}{run}{right}" for run, w in self.segments())


def explain(logits: LogitsFn, text: str, score: float, max_chars: int) -> Explanation:
    """Occlusion weights for ``text`` (its first ``max_chars`` characters: the model reads
    no further) under a model whose ``logits`` maps texts to [normal, lovelorn] rows."""
    shown = text[:max_chars]
    cuts = [(i, w) for w in WINDOWS for i in range(len(shown) - w + 1)]
    variants = [text] + [text[:i] + text[i + w :] for i, w in cuts]
    out = np.asarray(logits(variants), dtype=np.float64)
    margins = out[:, 1] - out[:, 0]
    drops = margins[0] - margins[1:]
    total, count = np.zeros(len(shown)), np.zeros(len(shown))
    for (i, w), drop in zip(cuts, drops, strict=True):
        total[i : i + w] += drop
        count[i : i + w] += 1
    weights = np.divide(total, count, out=np.zeros_like(total), where=count > 0)
    return Explanation(shown, score, [float(w) for w in weights])
