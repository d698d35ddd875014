"""Weibo API JSON (m.weibo.cn) to Comment v1: tolerant of missing optional fields, strict on types.

Every problem with one comment object becomes SchemaError, so a bad comment in a page
is skipped and counted rather than failing the page.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from typing import Any

from pydantic import ValidationError

from monitor.errors import SchemaError
from monitor.schemas import Comment

__all__ = ["BEIJING", "parse_comment", "parse_created_at"]

BEIJING = timezone(timedelta(hours=8), "CST")
_RELATIVE = re.compile(r"^(\d+)\s*(秒|分钟|小时|天)前$")
_UNITS = {"秒": "seconds", "分钟": "minutes", "小时": "hours", "天": "days"}


def parse_created_at(value: Any, now: datetime) -> datetime:
    """Weibo's "Sat Nov 22 10:01:02 +0800 2026", or the relative forms some pages use."""
    if not isinstance(value, str) or not value.strip():
        raise SchemaError(f"created_at must be a non-empty string, got {value!r:.40}")
    text = value.strip()
    try:
        return datetime.strptime(text, "%a %b %d %H:%M:%S %z %Y")
    except ValueError:
        pass
    local_now = now.astimezone(BEIJING)
    if text == "刚刚":
        return now
    if m := _RELATIVE.match(text):
        return now - timedelta(**{_UNITS[m.group(2)]: int(m.group(1))})
    for prefix, days in (("今天", 0), ("昨天", 1)):
        if text.startswith(prefix):
            hm = datetime.strptime(text.removeprefix(prefix).strip(), "%H:%M")
            day = local_now - timedelta(days=days)
            return day.replace(hour=hm.hour, minute=hm.minute, second=0, microsecond=0)
    for fmt, with_year in (("%Y-%m-%d %H:%M:%S", True), ("%Y-%m-%d", True), ("%m-%d", False)):
        try:
            parsed = datetime.strptime(text, fmt)
        except ValueError:
            continue
        if not with_year:
            parsed = parsed.replace(year=local_now.year)
        return parsed.replace(tzinfo=BEIJING)
    raise SchemaError(f"unrecognised created_at {text!r:.60}")


def _id(value: Any, field: str) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, str)) or str(value).strip() == "":
        raise SchemaError(f"{field} must be an id (int or string), got {value!r:.40}")
    return str(value).strip()


def parse_comment(obj: Any, *, post_id: str | None, source: str, fetched_at: datetime) -> Comment:
    """One comment object of ``data.data[]`` (hotflow or comments/show).

    ``post_id`` comes from the request; file dumps may carry it as ``post_id`` or ``mid``.
    """
    if not isinstance(obj, dict):
        raise SchemaError(f"comment must be an object, got {type(obj).__name__}")
    user = obj.get("user") or {}
    if not isinstance(user, dict):
        raise SchemaError("comment.user must be an object")
    text = obj.get("text")
    if not isinstance(text, str):
        raise SchemaError(f"comment.text must be a string, got {type(text).__name__}")
    status = obj.get("status")
    post = (
        post_id
        or obj.get("post_id")
        or obj.get("mid")
        or (status.get("id") if isinstance(status, dict) else None)
    )
    rootid = obj.get("rootid")
    comment_id = _id(obj.get("id", obj.get("idstr")), "comment.id")
    like_count = obj.get("like_count", obj.get("like_counts"))
    try:
        return Comment(
            comment_id=comment_id,
            post_id=_id(post, "post id"),
            user_id=_id(user["id"], "user.id") if user.get("id") is not None else None,
            user_name=user.get("screen_name"),
            text_raw=text,
            created_at=parse_created_at(obj.get("created_at"), fetched_at),
            fetched_at=fetched_at,
            source=source,
            like_count=like_count
            if isinstance(like_count, int) and not isinstance(like_count, bool)
            else None,
            reply_to=str(rootid) if rootid is not None and str(rootid) != comment_id else None,
        )
    except ValidationError as exc:
        first = exc.errors()[0]
        raise SchemaError(
            f"invalid comment {comment_id}: {'.'.join(map(str, first['loc']))}: {first['msg']}"
        ) from None
