"""The m.weibo.cn JSON API over httpx, paced and guarded so the operator's IP and cookie survive.

Every request to the host passes the ``HostGuard``: a global pace (``min_interval_s`` plus
jitter between requests), exponential backoff after a failure (418/403/432, 5xx, ``ok: 0``,
a login page instead of JSON, truncated JSON, timeouts) and a circuit breaker that rests
the host after ``breaker_threshold`` failures in a row. httpx errors never escape this
module: they become PollTimeout, RateLimited or BadResponse.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import structlog

from monitor.errors import BadResponse, PollTimeout, RateLimited, Refused, SourceError
from monitor.metrics import Metrics
from monitor.retry import Backoff, Clock, SystemClock
from monitor.settings import WeiboSettings

__all__ = ["HostGuard", "Page", "WeiboClient", "translate_errors"]

log = structlog.get_logger()
RATE_LIMIT_STATUS = {403, 418, 432}


@dataclass
class Page:
    items: list[Any]
    next_max_id: int | None = None


@contextlib.contextmanager
def translate_errors(url: str) -> Iterator[None]:
    try:
        yield
    except httpx.TimeoutException as exc:
        raise PollTimeout(f"GET {url} timed out") from exc
    except httpx.HTTPError as exc:
        raise BadResponse(f"GET {url} failed: {type(exc).__name__}: {exc}") from exc


class HostGuard:
    """Pacing, backoff and the circuit breaker for one host, shared by all its requests."""

    def __init__(
        self, settings: WeiboSettings, clock: Clock, rng: random.Random | None = None
    ) -> None:
        self._settings = settings
        self._clock = clock
        self._rng = rng or random.Random()
        self._backoff = Backoff(
            settings.backoff_base_s,
            settings.backoff_cap_s,
            jitter=0.2 if settings.jitter_s else 0,
            rng=self._rng,
        )
        self._lock = asyncio.Lock()
        self._next_allowed = 0.0
        self.failures = 0
        self.open = False

    async def acquire(self) -> None:
        """Wait for our turn: requests to the host go one at a time, paced."""
        async with self._lock:
            delay = self._next_allowed - self._clock.monotonic()
            if delay > 0:
                await self._clock.sleep(delay)
            jitter = (
                self._rng.uniform(0, self._settings.jitter_s) if self._settings.jitter_s else 0.0
            )
            self._next_allowed = self._clock.monotonic() + self._settings.min_interval_s + jitter

    def succeeded(self) -> None:
        if self.open:
            log.warning("weibo_breaker_closed", after_failures=self.failures)
        self.failures = 0
        self.open = False
        self._backoff.reset()

    def failed(self, error: SourceError) -> float:
        """Record a failure; returns the rest imposed on the host before its next request."""
        self.failures += 1
        if self.failures >= self._settings.breaker_threshold:
            delay = self._settings.breaker_rest_s
            if not self.open:  # one warning per opening, not one per request
                log.warning(
                    "weibo_breaker_open",
                    failures=self.failures,
                    rest_s=delay,
                    last_error=str(error),
                    advice="blocked repeatedly; resting the source to protect the IP and cookie",
                )
            self.open = True
        else:
            delay = self._backoff.next()
            if isinstance(error, RateLimited) and error.retry_after:
                delay = max(delay, error.retry_after)
        self._next_allowed = max(self._next_allowed, self._clock.monotonic() + delay)
        return delay


class WeiboClient:
    def __init__(
        self,
        settings: WeiboSettings,
        *,
        metrics: Metrics,
        clock: Clock | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self._settings = settings
        self.guard = HostGuard(settings, clock or SystemClock(), rng)
        headers = {
            "User-Agent": settings.user_agent,
            "Accept": "application/json, text/plain, */*",
            "Referer": f"{settings.base_url}/",
            "X-Requested-With": "XMLHttpRequest",
        }
        if settings.cookie is not None:
            headers["Cookie"] = settings.cookie.get_secret_value()
        self._http = httpx.AsyncClient(
            base_url=settings.base_url,
            headers=headers,
            timeout=settings.timeout_s,
            transport=transport,
            follow_redirects=False,
        )
        self._requests = metrics.counter(
            "weibo_requests", "Requests to Weibo by outcome", ("endpoint", "outcome")
        )
        self._backoff_gauge = metrics.gauge(
            "weibo_backoff_seconds", "Rest imposed after the last failure"
        )
        self._breaker_gauge = metrics.gauge(
            "weibo_breaker_open", "1 while the circuit breaker rests the source"
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def get_json(self, endpoint: str, params: dict[str, Any]) -> dict[str, Any]:
        """One paced request; raises a SourceError after telling the guard about it."""
        await self.guard.acquire()
        url = f"{self._settings.base_url}/{endpoint}"
        try:
            data = await self._fetch(endpoint, url, params)
        except SourceError as error:
            outcome = type(error).__name__
            self._requests.labels(endpoint, outcome).inc()
            delay = self.guard.failed(error)
            self._backoff_gauge.set(delay)
            self._breaker_gauge.set(1 if self.guard.open else 0)
            log.warning(
                "weibo_request_failed", endpoint=endpoint, error=str(error), rest_s=round(delay, 2)
            )
            raise
        self._requests.labels(endpoint, "ok").inc()
        self.guard.succeeded()
        self._backoff_gauge.set(0)
        self._breaker_gauge.set(0)
        return data

    async def _fetch(self, endpoint: str, url: str, params: dict[str, Any]) -> dict[str, Any]:
        limit = self._settings.max_response_bytes
        with translate_errors(url):
            async with self._http.stream("GET", f"/{endpoint}", params=params) as response:
                if response.status_code in RATE_LIMIT_STATUS:
                    retry_after = response.headers.get("Retry-After", "")
                    raise RateLimited(
                        f"GET {url}: HTTP {response.status_code} (rate limited)",
                        retry_after=float(retry_after) if retry_after.isdigit() else None,
                    )
                if response.status_code != 200:
                    raise BadResponse(f"GET {url}: HTTP {response.status_code}")
                body = bytearray()
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) > limit:
                        raise BadResponse(f"GET {url}: response larger than {limit} bytes")
        try:
            data = json.loads(body)
        except (ValueError, RecursionError):
            start = bytes(body[:60]).decode("utf-8", "replace").strip()
            kind = (
                "an HTML page (login or captcha?)"
                if start.startswith("<")
                else "truncated or invalid JSON"
            )
            raise BadResponse(f"GET {url}: got {kind}") from None
        if not isinstance(data, dict):
            raise BadResponse(f"GET {url}: expected a JSON object")
        if data.get("ok") != 1:
            raise Refused(f"GET {url}: ok={data.get('ok')!r} {str(data.get('msg', ''))[:80]}")
        return data

    # -- endpoints -----------------------------------------------------------
    async def hotflow(self, post_id: str, max_id: int | None) -> Page:
        params: dict[str, Any] = {"id": post_id, "mid": post_id, "max_id_type": 0}
        if max_id:
            params["max_id"] = max_id
        data = _dict(await self.get_json("comments/hotflow", params), "data")
        next_max_id = data.get("max_id")
        return Page(
            _list(data, "data"),
            int(next_max_id) if isinstance(next_max_id, int) and next_max_id else None,
        )

    async def comments_show(self, post_id: str, page: int) -> Page:
        data = _dict(
            await self.get_json("api/comments/show", {"id": post_id, "page": page}), "data"
        )
        items = _list(data, "data")
        return Page(items, page + 1 if items else None)

    async def search(self, keyword: str, page: int) -> list[dict[str, Any]]:
        params = {
            "containerid": f"100103type=1&q={keyword}",
            "page_type": "searchall",
            "page": page,
        }
        data = _dict(await self.get_json("api/container/getIndex", params), "data")
        posts = []
        for card in _list(data, "cards"):
            if not isinstance(card, dict):
                continue
            for item in [card, *(card.get("card_group") or [])]:
                if (
                    isinstance(item, dict)
                    and item.get("card_type") == 9
                    and isinstance(item.get("mblog"), dict)
                ):
                    posts.append(item["mblog"])
        return posts


def _dict(data: dict[str, Any], key: str) -> dict[str, Any]:
    value = data.get(key)
    if not isinstance(value, dict):
        raise BadResponse(f"response field {key!r} is not an object")
    return value


def _list(data: dict[str, Any], key: str) -> list[Any]:
    value = data.get(key) or []
    if not isinstance(value, list):
        raise BadResponse(f"response field {key!r} is not a list")
    return value
