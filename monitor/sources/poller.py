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
from dataclasses import dataclass
from typing import Any, TypeVar

import structlog

from monitor.errors import BusError, Refused, SchemaError, SourceError, StoreUnavailable
from monitor.metrics import Metrics
from monitor.retry import Clock, Retry, Stopped, SystemClock
from monitor.schemas import Comment, utcnow
from monitor.settings import WeiboSettings
from monitor.sources.publisher import Publisher
from monitor.sources.weibo import Page, WeiboClient
from monitor.sources.weibo_json import parse_comment

__all__ = ["Poller", "Target"]

log = structlog.get_logger()
T = TypeVar("T")
STOP_GRACE_S = 1.5  # SIGTERM must end the poller within 2 s
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
        clock = self._clock
        # Weibo requests pace themselves (the client's host guard): no extra wait here.
        self._weibo = Retry(
            "Weibo", base_s=0, cap_s=0, retry_on=(SourceError,), clock=clock, quiet=True
        )
        self._publishing = Retry(
            "publishing comments",
            base_s=1.0,
            cap_s=30.0,
            retry_on=(BusError, StoreUnavailable),
            clock=clock,
        )
        self._redis = Retry(
            "Redis", base_s=0.5, cap_s=15.0, retry_on=(StoreUnavailable,), clock=clock
        )

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
            except Stopped:
                return  # nothing half-done: a page is published and marked, or not at all
            finally:
                target.due = self._clock.monotonic() + target.interval_s

    async def poll_keyword(self, keyword: str, pages: int, stop: asyncio.Event) -> None:
        """Raises Stopped when ``stop`` is set while waiting."""
        seen_posts: list[str] = []
        for page in range(1, pages + 1):
            posts = await self._weibo.call(
                lambda p=page: self._client.search(keyword, p), stop=stop
            )
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
        """Walk the post's comments from the stored cursor; returns at the end, the page limit
        or stop (then raises Stopped when ``stop`` came while waiting).

        A failed request is simply tried again: the host guard holds the next request back
        for the backoff (or the breaker's rest). If hotflow refuses the first page with
        ``ok: 0`` twice in a row, the walk falls back to ``api/comments/show`` paging.
        """
        cursors = self._publisher.cursors
        target = f"post:{post_id}"
        cursor = await self._redis.call(lambda: cursors.get(target), stop=stop) or ""
        walk = _Walk(cursor)
        pages = 0
        while pages < max_pages and not stop.is_set():
            page = await self._weibo.call(lambda: self._fetch(post_id, walk), stop=stop)
            comments = self._parse(page, post_id)
            self.published += await self._publishing.call(
                lambda c=comments: self._publisher.publish(c, source="weibo"), stop=stop
            )
            pages += 1
            walk.position = page.next_max_id
            await self._redis.call(lambda: cursors.set(target, walk.cursor()), stop=stop)
            if walk.position is None:
                log.info("post_walked", post_id=post_id, pages=pages)
                return

    async def _fetch(self, post_id: str, walk: _Walk) -> Page:
        try:
            if walk.fallback:
                page = await self._client.comments_show(post_id, walk.position or 1)
            else:
                page = await self._client.hotflow(post_id, walk.position)
        except Refused as exc:
            walk.refusals += 1
            if (
                not walk.fallback
                and walk.position is None
                and walk.refusals >= FALLBACK_AFTER_REFUSALS
            ):
                log.info("hotflow_refused_trying_comments_show", post_id=post_id, error=str(exc))
                walk.fallback = True
            raise
        except SourceError:
            walk.refusals = 0
            raise
        walk.refusals = 0
        return page

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


class _Walk:
    """Where a post's walk stands: the hotflow ``max_id`` (or ``show:N`` after the fallback)."""

    def __init__(self, cursor: str) -> None:
        self.fallback = cursor.startswith("show:")
        number = cursor.removeprefix("show:")
        self.position: int | None = int(number) if number.isdigit() else None
        self.refusals = 0

    def cursor(self) -> str | None:
        if self.position is None:
            return None
        return f"show:{self.position}" if self.fallback else str(self.position)
