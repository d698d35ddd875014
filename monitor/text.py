"""Weibo comment HTML to the plain text the classifier sees, in training and in serving.

Kept pure and idempotent (``clean_text(clean_text(x)) == clean_text(x)``) so that text
cleaned by a crawler, by the poller and again by the trainer always ends up the same.
"""

from __future__ import annotations

import html
import re

__all__ = ["clean_text"]

# Emoji are <img alt=[泪] …> or <img alt="[泪]" …>: keep the alt text, it carries emotion.
_IMG_ALT = re.compile(
    r"""<img\b[^<>]*?\balt\s*=\s*(?:"([^"<>]*)"|'([^'<>]*)'|([^\s"'<>]+))[^<>]*>""", re.I
)
_BREAK = re.compile(r"</?(?:br|p|div|li)\b[^<>]*>", re.I)
_TAG = re.compile(r"</?[A-Za-z!?][^<>]*>")
_URL = re.compile(r"(?:https?://|www\.)[^\s\u4e00-\u9fff，。！？、]+", re.I)
# "回复@某人:" opens replies; it names another user and says nothing about feeling.
_REPLY_PREFIX = re.compile(r"^\s*回复\s*@[^\s:：]{1,30}\s*[:：]\s*")
_LINK_WORDS = re.compile(r"(?:网页链接|查看图片|图片评论)")
# Controls, zero-width characters and bidi controls (embeddings and overrides U+202A–U+202E,
# isolates U+2066–U+2069): they add no word, but reorder text on screen, so a reviewer
# would read something other than what the model scored.
_INVISIBLE = re.compile(
    r"[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f\u200b-\u200f\u2028-\u202e"
    r"\u2060\u2066-\u2069\ufeff]"
)
_SPACE = re.compile(r"\s+")


def _pass(text: str) -> str:
    text = html.unescape(text)
    text = _IMG_ALT.sub(lambda m: m.group(1) or m.group(2) or m.group(3) or "", text)
    text = _BREAK.sub(" ", text)
    text = _TAG.sub("", text)
    text = _URL.sub(" ", text)
    text = _LINK_WORDS.sub(" ", text)
    text = _INVISIBLE.sub("", text)
    text = _SPACE.sub(" ", text).strip()
    return _REPLY_PREFIX.sub("", text)


def clean_text(raw: str) -> str:
    """Strip tags, keep emoji alt text such as [泪], unescape entities, drop links and reply
    prefixes, normalise whitespace. @mentions inside the text are kept as written."""
    # Each pass that changes the text makes it shorter or turns odd whitespace into
    # spaces, so the loop ends; running it to a fixed point is what makes it idempotent.
    text, previous = _pass(raw), raw
    while text != previous:
        text, previous = _pass(text), text
    return text
