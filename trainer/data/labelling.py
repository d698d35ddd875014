"""Labelling functions: rules that turn an emotion corpus into weak lovelorn labels.

The romance lexicon was written from the definition of lovelorn (breakup, being dumped
or betrayed, unrequited love, missing an ex, a fading romance, unable to let go) before
any development-set text was read, and was not tuned on it afterwards: tuning cues on the
texts you evaluate on inflates the evaluation.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

from trainer.errors import DataError

__all__ = ["LABELLING_FUNCTIONS", "labelling_function", "romance_cue", "romance_loss_cue"]

ROMANCE_LOSS = (
    "失恋",
    "分手",
    "前任",
    "前男友",
    "前女友",
    "旧爱",
    "挽回",
    "挽留",
    "复合",
    "劈腿",
    "出轨",
    "变心",
    "移情别恋",
    "新欢",
    "暗恋",
    "单恋",
    "单相思",
    "备胎",
    "被甩",
    "甩了",
    "负心",
    "不爱",
    "爱过",
    "回不去",
    "回不到",
    "忘不了",
    "忘不掉",
    "放手",
    "心碎",
    "离开我",
    "冷战",
    "错过",
)
ROMANCE_OBJECT = (
    "爱情",
    "恋爱",
    "恋人",
    "男朋友",
    "女朋友",
    "男友",
    "女友",
    "初恋",
    "喜欢的人",
    "爱的人",
    "深爱",
    "爱你",
    "爱我",
    "喜欢你",
    "喜欢我",
    "在一起",
    "等你",
    "想你",
    "思念",
    "承诺",
    "誓言",
    "诺言",
    "结婚",
    "老公",
    "老婆",
    "亲爱的",
    "情人",
    "表白",
    "爱他",
    "爱她",
    "想他",
    "想她",
    "嫁",
    "娶",
)
_PATTERNS = re.compile(
    r"[他她你].{0,3}(离开|走了|不要我|不理我|不在乎)"
    r"|(忘|放)(不|得)(了|掉|下)[你他她]"
    r"|(不|没)再?(爱|喜欢)(我|你|他|她|了)"
)


def _norm(text: str) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text)).lower()


def romance_loss_cue(text: str) -> bool:
    """Words of romantic loss itself (分手, 前任, 暗恋 …) or patterns such as 他离开了 / 忘不了你."""
    t = _norm(text)
    return any(cue in t for cue in ROMANCE_LOSS) or _PATTERNS.search(t) is not None


def romance_cue(text: str) -> bool:
    """Any sign of a romantic object or relationship (romantic loss included)."""
    t = _norm(text)
    return romance_loss_cue(t) or any(cue in t for cue in ROMANCE_OBJECT)


LABELLING_FUNCTIONS: dict[str, Callable[[str], bool]] = {
    "romance_cue": romance_cue,
    "romance_loss_cue": romance_loss_cue,
}


def labelling_function(name: str) -> Callable[[str], bool]:
    """``"romance_cue"`` or its negation ``"not:romance_cue"``."""
    negate = name.startswith("not:")
    base = name.removeprefix("not:")
    if base not in LABELLING_FUNCTIONS:
        raise DataError(
            f"unknown labelling rule {name!r}; known: {', '.join(sorted(LABELLING_FUNCTIONS))} (prefix not: to negate)"
        )
    rule = LABELLING_FUNCTIONS[base]
    return (lambda text: not rule(text)) if negate else rule
