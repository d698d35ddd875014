"""Replay comment files into the bus: backfills, other crawlers' exports, the demo stream.

Accepted, one comment per line or row:
  - JSONL of Comment v1 messages (what this monitor publishes)
  - JSONL of Weibo API comment objects (``data.data[]`` items of hotflow / comments/show)
    carrying the post id as ``post_id``, ``mid`` or ``status.id``
  - CSV with a header, as common crawlers export it; columns are matched by name
    (id/comment_id, text/content, created_at/publish_time, post_id/weibo_id/mid,
    user_id, screen_name/user_name)

``speed`` replays the original timing (gaps between ``created_at``) ``speed`` times faster;
0 publishes as fast as the broker acknowledges.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import structlog
from tqdm import tqdm

from monitor.errors import BusError, SchemaError, SourceError, StoreUnavailable
from monitor.retry import Retry, Stopped
from monitor.schemas import Comment, utcnow
from monitor.sources.publisher import Publisher
from monitor.sources.weibo_json import parse_comment

__all__ = ["read_comment_file", "replay_file"]

log = structlog.get_logger()
CHUNK = 100
_CSV_COLUMNS = {
    "id": ("id", "comment_id", "cid"),
    "text": ("text", "content", "comment", "评论内容"),
    "created_at": ("created_at", "publish_time", "time", "created", "发布时间"),
    "post_id": ("post_id", "weibo_id", "mid", "status_id"),
    "user_id": ("user_id", "uid"),
    "screen_name": ("screen_name", "user_name", "nickname", "用户昵称"),
    "like_count": ("like_count", "like_counts", "likes"),
}


def _from_json(obj: Any, source: str) -> Comment:
    if isinstance(obj, dict) and "comment_id" in obj and "schema_version" in obj:
        try:
            return Comment.model_validate(obj | {"source": obj.get("source") or source})
        except ValueError as exc:
            raise SchemaError(f"invalid Comment: {str(exc).splitlines()[0]}") from None
    return parse_comment(obj, post_id=None, source=source, fetched_at=utcnow())


def _from_csv_row(row: dict[str, str], columns: dict[str, str], source: str) -> Comment:
    obj: dict[str, Any] = {
        k: row.get(col) for k, col in columns.items() if k not in ("user_id", "screen_name")
    }
    obj["user"] = {
        "id": row.get(columns["user_id"]) if "user_id" in columns else None,
        "screen_name": row.get(columns["screen_name"]) if "screen_name" in columns else None,
    }
    if isinstance(obj.get("like_count"), str):
        obj["like_count"] = int(obj["like_count"]) if obj["like_count"].isdigit() else None
    return parse_comment(obj, post_id=None, source=source, fetched_at=utcnow())


def read_comment_file(path: Path) -> Iterator[Comment | SchemaError]:
    """Comments in file order; a bad line yields its SchemaError (with the line number) instead."""
    if not path.is_file():
        raise SourceError(f"comment file {path} does not exist")
    source = f"file:{path.name}"
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            if path.suffix.lower() == ".csv":
                reader = csv.DictReader(handle)
                fields = reader.fieldnames or []
                columns = {
                    k: next((c for c in names if c in fields), "")
                    for k, names in _CSV_COLUMNS.items()
                }
                columns = {k: v for k, v in columns.items() if v}
                missing = [k for k in ("id", "text", "created_at", "post_id") if k not in columns]
                if missing:
                    raise SourceError(
                        f"{path}: no column for {', '.join(missing)} (found: {', '.join(fields)})"
                    )
                for number, row in enumerate(reader, 2):
                    try:
                        yield _from_csv_row(row, columns, source)
                    except SchemaError as exc:
                        yield SchemaError(f"{path.name}:{number}: {exc}")
                return
            for number, line in enumerate(handle, 1):
                if not line.strip():
                    continue
                try:
                    yield _from_json(json.loads(line), source)
                except ValueError as exc:  # JSONDecodeError
                    yield SchemaError(f"{path.name}:{number}: not JSON ({exc})")
                except SchemaError as exc:
                    yield SchemaError(f"{path.name}:{number}: {exc}")
    except UnicodeDecodeError as exc:
        raise SourceError(f"{path} is not UTF-8 ({exc.reason} at byte {exc.start})") from None


async def replay_file(
    path: Path,
    publisher: Publisher,
    *,
    speed: float = 0.0,
    stop: asyncio.Event | None = None,
    progress: bool = False,
) -> dict[str, int]:
    """Publish a file's comments (deduplicated like the poller's); returns counts.

    A broker or Redis outage is waited out; ``stop`` ends the replay between chunks (what
    was published is marked, so running it again resumes without duplicates).
    """
    stop = stop or asyncio.Event()
    counts = {"read": 0, "published": 0, "bad": 0}
    chunk: list[Comment] = []
    previous: datetime | None = None
    retry = Retry(
        "publishing comments", base_s=1.0, cap_s=30.0, retry_on=(BusError, StoreUnavailable)
    )
    bar = tqdm(desc=f"replay {path.name}", unit="comment", disable=not progress)

    async def flush() -> None:
        counts["published"] += await retry.call(
            lambda: publisher.publish(chunk, source="file"), stop=stop
        )
        bar.update(len(chunk))
        chunk.clear()

    try:
        for item in read_comment_file(path):
            if stop.is_set():
                break
            if isinstance(item, SchemaError):
                counts["bad"] += 1
                log.warning("file_bad_comment", error=str(item))
                continue
            counts["read"] += 1
            if speed > 0:  # keep the original rhythm, scaled; fetched "now"
                if (
                    previous is not None
                    and (gap := (item.created_at - previous).total_seconds() / speed) > 0
                ):
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), timeout=min(gap, 60.0))
                    if stop.is_set():
                        break
                previous = item.created_at
                chunk.append(item.model_copy(update={"fetched_at": utcnow()}))
                await flush()
                continue
            chunk.append(item)
            if len(chunk) >= CHUNK:
                await flush()
        if chunk and not stop.is_set():
            await flush()
    except Stopped:
        log.info("replay_stopped", path=str(path), published=counts["published"])
    finally:
        bar.close()
    return counts
