"""A behaviour suite in the CheckList manner: what a heartbreak detector must and must not do,
whatever its figures on a test set say.

- minimum functionality: plain, slang and traditional-script statements of heartbreak are
  flagged at the model's default threshold; grief, exam stress, illness, work, happy
  romance, celebrity news, an advert and one keyword repeated twelve times are not;
- invariance: simplified vs traditional script, an added emoji or punctuation move a score
  by at most ``MAX_SHIFT``;
- direction: negating the loss ("我没有失恋") lowers the score.

The texts are ours, written for this suite (no corpus text), so any model can be run on it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["CASES", "MAX_SHIFT", "Case", "Outcome", "run_suite", "summarise"]

MAX_SHIFT = 0.1


@dataclass(frozen=True)
class Case:
    test: str  # "flag", "pass", "invariant", "lower"
    group: str
    text: str
    other: str = ""  # the variant an invariance or direction test compares with

    @property
    def name(self) -> str:
        return f"{self.test}/{self.group}: {self.text}" + (f" | {self.other}" if self.other else "")


def _cases(test: str, group: str, *texts: str) -> list[Case]:
    return [Case(test, group, t) for t in texts]


def _pairs(test: str, group: str, *pairs: tuple[str, str]) -> list[Case]:
    return [Case(test, group, a, b) for a, b in pairs]


CASES: list[Case] = [
    *_cases(
        "flag",
        "plain",
        "我失恋了，好难受",
        "分手三个月了，还是忘不了他",
        "他说我们不合适，就这样分手了，我哭了一整夜",
        "喜欢了五年的人今天结婚了，新娘不是我",
        "被他甩了，心像被掏空了一样",
        "她把我删了，我们就这样结束了",
    ),
    *_cases(
        "flag",
        "slang",
        "被绿了，emo到凌晨三点",
        "前任官宣了，我直接破防",
        "又梦到前男友了，意难平",
        "分了，别来安慰我，让我一个人待会",
    ),
    *_cases(
        "flag",
        "traditional",
        "我失戀了，好難受",
        "分手三個月了，還是忘不了他",
        "被他甩了，心像被掏空了一樣",
    ),
    *_cases("pass", "grief", "外婆昨天走了，再也吃不到她做的饭了", "爸爸确诊了癌症，我整晚睡不着"),
    *_cases(
        "pass",
        "exam stress",
        "考研又没上岸，感觉人生没有希望了",
        "明天期末考，什么都没复习，要挂科了",
    ),
    *_cases("pass", "illness", "发烧三天了，浑身疼，好难受"),
    *_cases("pass", "work", "加班到凌晨，老板还要改方案，心好累"),
    *_cases(
        "pass",
        "happy romance",
        "今天是我们在一起一周年，好幸福",
        "男朋友偷偷给我准备了生日惊喜，好爱他",
    ),
    *_cases(
        "pass", "celebrity news", "某顶流明星官宣恋情，粉丝炸锅了", "娱乐圈又一对明星夫妻宣布离婚"
    ),
    *_cases("pass", "advert", "情人节特惠，玫瑰花束全场八折，下单即送贺卡"),
    *_cases("pass", "repeated keyword", "分手" * 12),
    *_pairs(
        "invariant",
        "traditional script",
        ("我失恋了，好难受", "我失戀了，好難受"),
        ("分手三个月了，还是忘不了他", "分手三個月了，還是忘不了他"),
        ("外婆昨天走了，再也吃不到她做的饭了", "外婆昨天走了，再也吃不到她做的飯了"),
    ),
    *_pairs(
        "invariant",
        "emoji",
        ("我失恋了，好难受", "我失恋了，好难受😭"),
        ("今天是我们在一起一周年，好幸福", "今天是我们在一起一周年，好幸福❤️"),
    ),
    *_pairs(
        "invariant",
        "punctuation",
        ("我失恋了，好难受", "我失恋了，好难受！！！"),
        ("分手三个月了，还是忘不了他", "分手三个月了，还是忘不了他。。。"),
    ),
    *_pairs(
        "lower",
        "negation",
        ("我失恋了", "我没有失恋"),
        ("我们分手了", "我们没有分手"),
        ("他离开我了", "他没有离开我"),
    ),
]


@dataclass(frozen=True)
class Outcome:
    case: Case
    passed: bool
    score: float
    other_score: float | None = None


def run_suite(
    score: Callable[[Sequence[str]], np.ndarray], threshold: float, cases: Sequence[Case] = CASES
) -> list[Outcome]:
    """Every case against ``score`` (texts → probabilities) at ``threshold``."""
    texts = sorted({t for c in cases for t in (c.text, c.other) if t})
    scores = dict(zip(texts, (float(s) for s in score(texts)), strict=True))
    out = []
    for case in cases:
        a, b = scores[case.text], scores.get(case.other)
        if case.test == "flag":
            passed = a >= threshold
        elif case.test == "pass":
            passed = a < threshold
        elif case.test == "invariant":
            passed = b is not None and abs(a - b) <= MAX_SHIFT
        else:  # "lower"
            passed = b is not None and b < a
        out.append(Outcome(case, passed, a, b))
    return out


def summarise(outcomes: Sequence[Outcome]) -> list[tuple[str, str, int, int]]:
    """(test, group, passed, total) per group, in suite order."""
    groups: dict[tuple[str, str], list[bool]] = {}
    for o in outcomes:
        groups.setdefault((o.case.test, o.case.group), []).append(o.passed)
    return [(t, g, sum(v), len(v)) for (t, g), v in groups.items()]
