"""Replay comment files into the bus: backfills, other crawlers' exports, the demo stream.

``speed`` replays the original timing (gaps between ``created_at``) ``speed`` times faster;
0 publishes as fast as the broker acknowledges.

Reading and per-line validation live in ``comment_file``; this module decides what to do
with the result. One bad line must never cost the rest, so each ``BadLine`` is
dead-lettered with its line number and reason before going on. A file with no comment
among its first ``WRONG_FILE_LINES`` lines is refused whole instead: that is another format
or encoding, not a few poisoned lines, and dead-lettering all of it would help nobody.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from datetime import datetime
from pathlib import Path

import structlog
from tqdm import tqdm

from monitor.errors import BusError, SourceError, StoreUnavailable
from monitor.retry import Retry, Stopped
from monitor.schemas import Comment, utcnow
from monitor.sources.comment_file import BadLine, read_comment_file
from monitor.sources.publisher import Publisher

__all__ = ["WRONG_FILE_LINES", "replay_file"]

log = structlog.get_logger()
CHUNK = 100
WRONG_FILE_LINES = 100


def _wrong_file(path: Path, bad: list[BadLine]) -> SourceError:
    lines = f"{len(bad)} unreadable line{'s' if len(bad) > 1 else ''}"
    return SourceError(
        f"{path}: not a comment file ({lines} and no comment; first {bad[0]}): "
        "expected UTF-8 JSONL or CSV, nothing was published"
    )


async def replay_file(
    path: Path,
    publisher: Publisher,
    *,
    speed: float = 0.0,
    stop: asyncio.Event | None = None,
    progress: bool = False,
) -> dict[str, int]:
    """Publish a file's comments (deduplicated like the poller's) and dead-letter its bad
    lines; returns counts: ``read`` comments, ``published`` new ones, ``bad`` lines
    dead-lettered.

    A broker or Redis outage is waited out; ``stop`` ends the replay between chunks (what
    was published is marked, so running it again resumes without duplicates; bad lines are
    dead-lettered again). Raises SourceError, having sent nothing, for a file with no
    comment among its first ``WRONG_FILE_LINES`` lines.
    """
    stop = stop or asyncio.Event()
    counts = {"read": 0, "published": 0, "bad": 0}
    chunk: list[Comment] = []
    rejected: list[BadLine] = []
    previous: datetime | None = None
    retry = Retry(
        "publishing comments", base_s=1.0, cap_s=30.0, retry_on=(BusError, StoreUnavailable)
    )
    bar = tqdm(desc=f"replay {path.name}", unit="comment", disable=not progress)

    async def flush() -> None:
        if chunk:
            counts["published"] += await retry.call(
                lambda: publisher.publish(chunk, source="file"), stop=stop
            )
            bar.update(len(chunk))
            chunk.clear()
        for bad in rejected:
            send = functools.partial(
                publisher.dead_letter_line,
                bad.raw,
                bad.reason,
                file=bad.file,
                line=bad.line,
                size=bad.size,
                source="file",
            )
            await retry.call(send, stop=stop)
            counts["bad"] += 1
        rejected.clear()

    try:
        for item in read_comment_file(path):
            if stop.is_set():
                break
            if isinstance(item, BadLine):
                rejected.append(item)
                if not counts["read"] and len(rejected) >= WRONG_FILE_LINES:
                    raise _wrong_file(path, rejected)
                if counts["read"] and len(rejected) >= CHUNK:
                    await flush()
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
        if not stop.is_set():
            if rejected and not counts["read"]:
                raise _wrong_file(path, rejected)
            await flush()
    except Stopped:
        log.info("replay_stopped", path=str(path), published=counts["published"])
    finally:
        bar.close()
    return counts
