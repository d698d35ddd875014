"""Read a comment file into comments, one line (or CSV record) at a time.

Accepted, one comment per line or row:
  - JSONL of Comment v1 messages (what this monitor publishes)
  - JSONL of Weibo API comment objects (``data.data[]`` items of hotflow / comments/show)
    carrying the post id as ``post_id``, ``mid`` or ``status.id``
  - CSV with a header, as common crawlers export it; columns are matched by name
    (id/comment_id, text/content, created_at/publish_time, post_id/weibo_id/mid,
    user_id, screen_name/user_name)

Files come from elsewhere, so a line that is not a comment (not UTF-8, not JSON, JSON
nested deeper than ``MAX_DEPTH``, a missing field, a date without a time zone) is yielded
as a ``BadLine`` rather than raised: the caller decides what to do with it. The file is
read as bytes and decoded line by line, so a stray byte spoils only its own line.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any, NamedTuple

from pydantic import ValidationError

from monitor.bus.dead_letters import DLQ_VALUE_LIMIT
from monitor.errors import SchemaError, SourceError
from monitor.schemas import Comment, utcnow
from monitor.sources.weibo_json import parse_comment

__all__ = ["MAX_DEPTH", "BadLine", "read_comment_file"]

# Weibo comment objects nest about five deep; validation walks values recursively, so a
# line is refused well before Python's recursion limit could be reached.
MAX_DEPTH = 64
_BOM = b"\xef\xbb\xbf"
_CSV_COLUMNS = {
    "id": ("id", "comment_id", "cid"),
    "text": ("text", "content", "comment", "评论内容"),
    "created_at": ("created_at", "publish_time", "time", "created", "发布时间"),
    "post_id": ("post_id", "weibo_id", "mid", "status_id"),
    "user_id": ("user_id", "uid"),
    "screen_name": ("screen_name", "user_name", "nickname", "用户昵称"),
    "like_count": ("like_count", "like_counts", "likes"),
}


class BadLine(SchemaError):
    """A line (for CSV, a record's lines) that is not a comment, kept to be dead-lettered.

    ``raw`` is cut to what the dead-letter topic keeps, so holding many costs little;
    ``size`` is the line's full length in bytes, without its line ending.
    """

    def __init__(self, file: str, line: int, reason: str, raw: bytes) -> None:
        super().__init__(f"{file}:{line}: {reason}")
        raw = raw.removesuffix(b"\n").removesuffix(b"\r")  # the line, not its ending
        self.file = file
        self.line = line
        self.reason = reason
        self.size = len(raw)
        self.raw = raw[:DLQ_VALUE_LIMIT]


class _Line(NamedTuple):
    number: int  # from 1
    offset: int  # of its first byte in the file
    raw: bytes


def _lines(handle: IO[bytes]) -> Iterator[_Line]:
    offset = 0
    for number, raw in enumerate(handle, 1):
        start, offset = offset, offset + len(raw)
        if number == 1 and raw.startswith(_BOM):
            raw, start = raw[len(_BOM) :], start + len(_BOM)
        yield _Line(number, start, raw)


def _utf8(raw: bytes, offset: int) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SchemaError(
            f"not UTF-8 ({exc.reason} at byte offset {offset + exc.start} of the file)"
        ) from None


def _deeper_than(value: Any, limit: int) -> bool:
    """Walks without recursion: the check must not fail the way it guards against."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            item = list(item.values())
        if isinstance(item, list):
            if depth > limit:
                return True
            stack.extend((child, depth + 1) for child in item)
    return False


def _parse_json(text: str) -> Any:
    too_deep = SchemaError(f"JSON nested deeper than {MAX_DEPTH} levels")
    try:
        obj = json.loads(text)
    except ValueError as exc:  # JSONDecodeError
        raise SchemaError(f"not JSON ({exc})") from None
    except RecursionError:  # the C decoder gives up near the recursion limit
        raise too_deep from None
    if _deeper_than(obj, MAX_DEPTH):
        raise too_deep
    return obj


def _from_json(obj: Any, source: str) -> Comment:
    if isinstance(obj, dict) and "comment_id" in obj and "schema_version" in obj:
        try:
            return Comment.model_validate(obj | {"source": obj.get("source") or source})
        except ValidationError as exc:  # name the field, as schemas.decode does
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "Comment"
            raise SchemaError(f"invalid Comment: {where}: {first['msg']}") from None
    try:
        return parse_comment(obj, post_id=None, source=source, fetched_at=utcnow())
    except ValueError as exc:  # a date parse_comment let through ("今天 25:99")
        raise SchemaError(f"invalid comment: {exc}") from None


def _from_csv_row(row: dict[str, str], columns: dict[str, str], source: str) -> Comment:
    obj: dict[str, Any] = {
        k: row.get(col) for k, col in columns.items() if k not in ("user_id", "screen_name")
    }
    obj["user"] = {
        "id": row.get(columns["user_id"]) if "user_id" in columns else None,
        "screen_name": row.get(columns["screen_name"]) if "screen_name" in columns else None,
    }
    if isinstance(obj.get("like_count"), str):
        # isdecimal, not isdigit: int() refuses "²", and one odd cell must not end the file
        obj["like_count"] = int(obj["like_count"]) if obj["like_count"].isdecimal() else None
    try:
        return parse_comment(obj, post_id=None, source=source, fetched_at=utcnow())
    except ValueError as exc:
        raise SchemaError(f"invalid comment: {exc}") from None


def _json_lines(handle: IO[bytes], name: str, source: str) -> Iterator[Comment | BadLine]:
    for line in _lines(handle):
        try:
            text = _utf8(line.raw, line.offset)
            if not text.strip():
                continue
            item: Comment | BadLine = _from_json(_parse_json(text), source)
        except SchemaError as exc:
            item = BadLine(name, line.number, str(exc), line.raw)
        yield item


def _csv_records(handle: IO[bytes], path: Path, source: str) -> Iterator[Comment | BadLine]:
    """Rows through ``csv`` (a quoted field may span lines), each checked against the bytes
    of the lines it came from, so that a bad byte or a bad row is that record's alone."""
    held: list[_Line] = []  # the lines of the record being read

    def decoded(lines: Iterable[_Line]) -> Iterator[str]:
        for line in lines:
            held.append(line)
            yield line.raw.decode("utf-8", "surrogateescape")

    reader = csv.DictReader(decoded(_lines(handle)))
    fields = reader.fieldnames or []
    if held:
        try:
            _utf8(held[-1].raw, held[-1].offset)
        except SchemaError as exc:
            raise SourceError(f"{path}: the header line is {exc}") from None
    held.clear()
    columns = {k: next((c for c in names if c in fields), "") for k, names in _CSV_COLUMNS.items()}
    columns = {k: v for k, v in columns.items() if v}
    missing = [k for k in ("id", "text", "created_at", "post_id") if k not in columns]
    if missing:
        raise SourceError(
            f"{path}: no column for {', '.join(missing)} (found: {', '.join(fields)})"
        )
    while True:
        problem = None
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:  # a field over csv.field_size_limit(), …
            row, problem = {}, f"not CSV ({exc})"
        # the record's lines, without the blank ones DictReader skipped before it
        start = next((i for i, line in enumerate(held) if line.raw.strip()), len(held) - 1)
        lines = held[start:]
        held.clear()
        raw = b"".join(line.raw for line in lines)
        try:
            if problem is not None:
                raise SchemaError(problem)
            _utf8(raw, lines[0].offset)
            item: Comment | BadLine = _from_csv_row(row, columns, source)
        except SchemaError as exc:
            item = BadLine(path.name, lines[0].number, str(exc), raw)
        yield item


def read_comment_file(path: Path) -> Iterator[Comment | BadLine]:
    """Comments in file order; a bad line yields its BadLine (with the line number) instead.

    Raises SourceError only for the file as a whole: missing, or a CSV header that is not
    UTF-8 or lacks a needed column."""
    if not path.is_file():
        raise SourceError(f"comment file {path} does not exist")
    source = f"file:{path.name}"
    with path.open("rb") as handle:
        if path.suffix.lower() == ".csv":
            yield from _csv_records(handle, path, source)
        else:
            yield from _json_lines(handle, path.name, source)
