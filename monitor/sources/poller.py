"""The Weibo poller: each target on its own interval, bounded concurrency, resumable cursors.

A post is walked page by page (hotflow ``max_id``); after each page is published and
acknowledged, the cursor moves to the next page, so a restart resumes mid-walk without a
gap, and the seen set keeps the repeat of an interrupted page out of Kafka. When the walk
reaches ``max_id == 0`` the cursor resets and the next cycle starts from the top, where new
comments appear. A keyword target searches posts and walks each one.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import structlog

from monitor.errors import BusError, Refused, SchemaError, SourceError
from monitor.metrics import Metrics
from monitor.retry import Backoff, Clock, SystemClock
from monitor.schemas import Comment, utcnow
from monitor.settings import WeiboSettings
from monitor.sources.publisher import REDIS_ERRORS, Publisher
from monitor.sources.weibo import Page, WeiboClient
from monitor.sources.weibo_json import parse_comment

__all__ = ["Poller", "Target"]

log = structlog.get_logger()
T = TypeVar("T")
STOP_GRACE_S = 10.0
FALLBACK_AFTER_REFUSALS = 2


@dataclass
class Target:
    kind: str  # "post" | "keyword"
    value: str
    interval_s: float
    pages: int
    due: float = 0.0

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.value}"


class Poller:
    def __init__(
        self,
        settings: WeiboSettings,
        client: WeiboClient,
        publisher: Publisher,
        *,
        metrics: Metrics,
        clock: Clock | None = None,
        targets: list[Target] | None = None,
    ) -> None:
        self._settings = settings
        self._client = client
        self._publisher = publisher
        self._clock = clock or SystemClock()
        self.targets = (
            targets
            if targets is not None
            else (
                [
                    Target("post", p.post_id, p.interval_s, settings.max_pages)
                    for p in settings.posts
                ]
                + [Target("keyword", k.keyword, k.interval_s, k.pages) for k in settings.keywords]
            )
        )
        self._bad = metrics.counter("weibo_bad_comments", "Comment objects that did not parse")
        self.published = 0

    async def run(self, stop: asyncio.Event) -> None:
        """Poll every target when due until ``stop``; a cycle in progress finishes its page first."""
        if not self.targets:
            raise SourceError(
                "no targets: set weibo.posts / weibo.keywords or pass --post / --keyword"
            )
        limit = asyncio.Semaphore(self._settings.concurrency)
        running: dict[str, asyncio.Task[None]] = {}
        while not stop.is_set():
            now = self._clock.monotonic()
            for target in self.targets:
                if target.due <= now and target.key not in running:
                    running[target.key] = asyncio.create_task(self._guarded(target, limit, stop))
            for key, task in list(running.items()):
                if task.done():
                    del running[key]
                    task.result()  # re-raise programming errors; expected ones are handled inside
            wake = min((t.due for t in self.targets if t.key not in running), default=now + 1.0)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=max(0.05, min(wake - now, 1.0)))
        # Walks check ``stop`` between pages; give them a moment to finish the page in hand,
        # then cancel what still waits (a backoff, a breaker rest): nothing is half-published.
        if running:
            _, pending = await asyncio.wait(running.values(), timeout=STOP_GRACE_S)
            for task in pending:
                task.cancel()
            results = await asyncio.gather(*running.values(), return_exceptions=True)
            failure = next((r for r in results if isinstance(r, Exception)), None)
            if failure is not None:
                raise failure

    async def _guarded(self, target: Target, limit: asyncio.Semaphore, stop: asyncio.Event) -> None:
        async with limit:
            try:
                if target.kind == "post":
                    await self.poll_post(target.value, target.pages, stop)
                else:
                    await self.poll_keyword(target.value, target.pages, stop)
            finally:
                target.due = self._clock.monotonic() + target.interval_s

    async def poll_keyword(self, keyword: str, pages: int, stop: asyncio.Event) -> None:
        seen_posts: list[str] = []
        for page in range(1, pages + 1):
            posts = await self._retrying(lambda p=page: self._client.search(keyword, p), stop)
            if posts is None:
                return
            seen_posts += [
                str(p["id"]) for p in posts if p.get("id") and p.get("comments_count", 1)
            ]
            if not posts:
                break
        for post_id in dict.fromkeys(seen_posts):
            if stop.is_set():
                return
            await self.poll_post(post_id, self._settings.max_pages, stop)

    async def poll_post(self, post_id: str, max_pages: int, stop: asyncio.Event) -> None:
        """Walk the post's comments from the stored cursor; returns at the end, the page limit or stop.

        A failed request is simply tried again: the host guard holds the next request back
        for the backoff (or the breaker's rest). If hotflow refuses the first page with
        ``ok: 0`` twice in a row, the walk falls back to ``api/comments/show`` paging.
        """
        cursors = self._publisher.cursors
        target = f"post:{post_id}"
        cursor = await self._redis_retrying(lambda: cursors.get(target), stop) or ""
        fallback = cursor.startswith("show:")
        position: int | None = (
            int(cursor.removeprefix("show:")) if cursor.removeprefix("show:").isdigit() else None
        )
        pages = refusals = 0
        while pages < max_pages and not stop.is_set():
            try:
                if fallback:
                    page = await self._client.comments_show(post_id, position or 1)
                else:
                    page = await self._client.hotflow(post_id, position)
            except Refused as exc:
                refusals += 1
                if not fallback and position is None and refusals >= FALLBACK_AFTER_REFUSALS:
                    log.info(
                        "hotflow_refused_trying_comments_show", post_id=post_id, error=str(exc)
                    )
                    fallback = True
                continue
            except SourceError:
                refusals = 0
                continue
            refusals = 0
            published = await self._publish_retrying(self._parse(page, post_id), stop)
            if published is None:
                return
            self.published += published
            pages += 1
            position = page.next_max_id
            next_cursor = (
                None if position is None else (f"show:{position}" if fallback else str(position))
            )
            await self._redis_retrying(lambda c=next_cursor: cursors.set(target, c), stop)
            if position is None:
                log.info("post_walked", post_id=post_id, pages=pages)
                return

    # -- helpers -------------------------------------------------------------
    def _parse(self, page: Page, post_id: str) -> list[Comment]:
        fetched = utcnow()
        out = []
        objects: list[Any] = []
        for item in page.items:
            objects.append(item)
            if (
                self._settings.include_replies
                and isinstance(item, dict)
                and isinstance(item.get("comments"), list)
            ):
                objects += item["comments"]
        for obj in objects:
            try:
                out.append(
                    parse_comment(obj, post_id=post_id, source="weibo:comments", fetched_at=fetched)
                )
            except SchemaError as exc:
                self._bad.inc()
                log.warning("weibo_bad_comment", post_id=post_id, error=str(exc))
        return out

    async def _retrying(self, call: Callable[[], Awaitable[T]], stop: asyncio.Event) -> T | None:
        while not stop.is_set():
            try:
                return await call()
            except SourceError:
                continue  # the host guard already holds the next attempt back
        return None

    async def _publish_retrying(self, comments: list[Comment], stop: asyncio.Event) -> int | None:
        """Publish until acknowledged: a broker or Redis outage must neither drop comments nor
        advance the cursor. Returns None when stopped first."""
        backoff = Backoff(1.0, 30.0)
        while not stop.is_set():
            try:
                return await self._publisher.publish(comments, source="weibo")
            except (BusError, *REDIS_ERRORS) as exc:
                delay = backoff.next()
                log.warning(
                    "publish_failed", error=str(exc), retry_in_s=delay, comments=len(comments)
                )
                await self._clock.sleep(delay)
        return None

    async def _redis_retrying(
        self, call: Callable[[], Awaitable[T]], stop: asyncio.Event
    ) -> T | None:
        backoff = Backoff(0.5, 15.0)
        while True:
            try:
                return await call()
            except REDIS_ERRORS as exc:
                if stop.is_set():
                    return None
                delay = backoff.next()
                log.warning("redis_unavailable", error=str(exc), retry_in_s=delay)
                await self._clock.sleep(delay)
