"""The poller against a local Weibo-shaped HTTP server, real Tansu and real Redis."""

from __future__ import annotations

import asyncio
import io
import json
import os
import signal
from collections.abc import Iterator

import pytest
import structlog

from monitor.logs import configure_logging
from monitor.schemas import Comment, decode
from monitor.settings import Settings, WeiboSettings
from monitor.sources.poller import Target
from monitor.sources.service import PollerService
from monitor.store import connect as connect_redis
from tests.fake_weibo import FakeWeiboServer, weibo_comment
from tests.fixtures import read_topic

POST = "5000000000001234"


class FakeClock:
    """Time moves only when the code sleeps; every sleep is recorded."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(round(seconds, 6))
        self.now += seconds
        await asyncio.sleep(0)


@pytest.fixture
def weibo() -> Iterator[FakeWeiboServer]:
    with FakeWeiboServer(timeout_sleep_s=0.6) as server:
        server.state.posts[POST] = [weibo_comment(POST, n) for n in range(35)]  # 4 pages
        yield server


def _settings(stack: Settings, server: FakeWeiboServer, **weibo: object) -> Settings:
    options = {
        "base_url": server.base_url,
        "min_interval_s": 1.0,
        "jitter_s": 0.0,
        "timeout_s": 0.3,
        "backoff_base_s": 2.0,
        "backoff_cap_s": 600.0,
        "breaker_threshold": 10,
    } | weibo
    return stack.model_copy(update={"weibo": WeiboSettings(**options)})


async def _poll_once(
    settings: Settings, clock: FakeClock, *, pages: int = 50, post: str = POST
) -> PollerService:
    """One walk of the post (what a scheduled poll does), on the fake clock."""
    service = PollerService(settings, clock=clock, targets=[Target("post", post, 3600, pages)])
    stop = asyncio.Event()

    async def stop_when_walked() -> None:
        while service.poller is None or service.poller.targets[0].due == 0.0:
            await asyncio.sleep(0.01)
        stop.set()

    watcher = asyncio.create_task(stop_when_walked())
    await asyncio.wait_for(service.run(stop), timeout=60)
    await watcher
    return service


async def _published(settings: Settings) -> list[Comment]:
    return [
        decode(Comment, r.value)
        for r in await read_topic(settings.kafka, settings.kafka.comments_topic)
    ]


async def _cursor(settings: Settings, target: str) -> bytes | None:
    redis = connect_redis(settings.redis)
    try:
        return await redis.get(f"{settings.redis.key_prefix}cursor:{target}")
    finally:
        await redis.aclose()


async def test_paging_reaches_every_comment_once_and_repoll_adds_nothing(
    stack: Settings, weibo: FakeWeiboServer
) -> None:
    settings = _settings(stack, weibo)
    service = await _poll_once(settings, FakeClock())
    assert service.poller is not None and service.poller.published == 35
    comments = await _published(settings)
    assert sorted(c.comment_id for c in comments) == sorted(
        str(c["id"]) for c in weibo.state.posts[POST]
    )
    assert all(c.post_id == POST and c.text.endswith("[泪]") for c in comments)
    hotflow = [r for r in weibo.state.requests if r["path"] == "/comments/hotflow"]
    assert [r["params"].get("max_id") for r in hotflow] == [None, "1001", "1002", "1003"]
    assert (
        await _cursor(settings, f"post:{POST}") is None
    )  # walk complete: next cycle starts at the top

    weibo.state.posts[POST].append(weibo_comment(POST, 99, "新评论：分手了"))
    again = await _poll_once(settings, FakeClock())
    assert again.poller is not None and again.poller.published == 1
    assert len(await _published(settings)) == 36


async def test_restart_midway_resumes_without_gap_or_duplicate(
    stack: Settings, weibo: FakeWeiboServer
) -> None:
    settings = _settings(stack, weibo)
    first = await _poll_once(settings, FakeClock(), pages=2)  # "killed" after two pages
    assert first.poller is not None and first.poller.published == 20
    assert await _cursor(settings, f"post:{POST}") == b"1002"
    restarted = await _poll_once(settings, FakeClock())
    assert restarted.poller is not None and restarted.poller.published == 15
    ids = [c.comment_id for c in await _published(settings)]
    assert len(ids) == len(set(ids)) == 35
    resumed = [
        r["params"].get("max_id") for r in weibo.state.requests if r["path"] == "/comments/hotflow"
    ][2:]
    assert resumed == ["1002", "1003"]


async def test_crash_between_publish_and_cursor_does_not_duplicate(
    stack: Settings, weibo: FakeWeiboServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = _settings(stack, weibo)
    from monitor.store import cursors as cursors_module

    original = cursors_module.Cursors.set
    calls = 0

    async def crash_on_second_cursor(self, target, value):  # type: ignore[no-untyped-def]
        nonlocal calls
        calls += 1
        if calls == 2:
            raise RuntimeError("simulated crash after publishing page 2")
        return await original(self, target, value)

    monkeypatch.setattr(cursors_module.Cursors, "set", crash_on_second_cursor)
    with pytest.raises(RuntimeError, match="simulated crash"):
        await _poll_once(settings, FakeClock())
    monkeypatch.setattr(cursors_module.Cursors, "set", original)
    await _poll_once(
        settings, FakeClock()
    )  # page 2 is fetched again; its comments are already seen
    ids = [c.comment_id for c in await _published(settings)]
    assert len(ids) == len(set(ids)) == 35


async def test_faults_back_off_on_schedule_and_lose_nothing(
    stack: Settings, weibo: FakeWeiboServer
) -> None:
    settings = _settings(stack, weibo)
    weibo.state.faults.extend(
        ["418", "403", "ok0", "html", "truncated", "timeout", "500", "ok", "432"]
    )
    clock = FakeClock()
    service = await _poll_once(settings, clock)
    # before each request after the first: the backoff after a failure (2·2ⁿ) or the 1 s pace
    assert clock.sleeps == [2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 1.0, 2.0, 1.0, 1.0]
    failures = {
        name: service.metrics.value(
            "weibo_requests_total", endpoint="comments/hotflow", outcome=name
        )
        for name in ("RateLimited", "BadResponse", "Refused", "PollTimeout", "ok")
    }
    assert failures == {
        "RateLimited": 3.0,
        "BadResponse": 3.0,
        "Refused": 1.0,
        "PollTimeout": 1.0,
        "ok": 4.0,
    }
    ids = [c.comment_id for c in await _published(settings)]
    assert len(ids) == len(set(ids)) == 35


async def test_breaker_rests_the_source_with_one_warning(
    stack: Settings, weibo: FakeWeiboServer
) -> None:
    settings = _settings(stack, weibo, breaker_threshold=3, breaker_rest_s=3600.0)
    weibo.state.faults.extend(["418"] * 5)
    stream = io.StringIO()
    configure_logging("json", "info", stream=stream)
    try:
        clock = FakeClock()
        await _poll_once(settings, clock)
    finally:
        configure_logging("console", "warning")
    assert clock.sleeps[:5] == [2.0, 4.0, 3600.0, 3600.0, 3600.0]
    events = [
        json.loads(line)["event"] for line in stream.getvalue().splitlines() if line.startswith("{")
    ]
    assert events.count("weibo_breaker_open") == 1
    assert events.count("weibo_breaker_closed") == 1
    assert len({c.comment_id for c in await _published(settings)}) == 35


async def test_cookie_is_sent_but_never_logged(
    stack: Settings, weibo: FakeWeiboServer, capfd: pytest.CaptureFixture[str]
) -> None:
    secret = "SUB=_2A25Lsecretcookievalue123"
    settings = _settings(stack, weibo, cookie=secret)
    weibo.state.faults.extend(["403", "html", "timeout"])
    stream = io.StringIO()
    configure_logging("json", "debug", stream=stream)
    try:
        structlog.get_logger().info(
            "settings", weibo=settings.weibo.model_dump(mode="json"), cookie=secret
        )
        await _poll_once(settings, FakeClock())
    finally:
        configure_logging("console", "warning")
    captured = capfd.readouterr()
    assert weibo.state.requests[0]["cookie"] == secret
    for text in (stream.getvalue(), captured.out, captured.err):
        assert "secretcookievalue" not in text
    assert "weibo_request_failed" in stream.getvalue()


async def test_hotflow_refused_falls_back_to_comments_show(
    stack: Settings, weibo: FakeWeiboServer
) -> None:
    settings = _settings(stack, weibo)
    weibo.state.hotflow_refused.add(POST)
    await _poll_once(settings, FakeClock())
    assert len({c.comment_id for c in await _published(settings)}) == 35
    assert [
        r["params"]["page"] for r in weibo.state.requests if r["path"] == "/api/comments/show"
    ] == ["1", "2", "3", "4", "5"]


async def test_keyword_search_walks_found_posts(stack: Settings, weibo: FakeWeiboServer) -> None:
    settings = _settings(stack, weibo)
    other = "5000000000005678"
    weibo.state.posts[other] = [weibo_comment(other, n) for n in range(3)]
    weibo.state.search_results["失恋"] = [
        {"id": POST, "comments_count": 35},
        {"id": other, "comments_count": 3},
    ]
    service = PollerService(
        settings, clock=FakeClock(), targets=[Target("keyword", "失恋", 3600, 1)]
    )
    stop = asyncio.Event()
    task = asyncio.create_task(service.run(stop))
    while service.poller is None or service.poller.published < 38:
        assert not task.done()
        await asyncio.sleep(0.02)
    stop.set()
    await task
    assert {c.post_id for c in await _published(settings)} == {POST, other}


async def test_broker_outage_holds_cursor_and_loses_nothing(
    stack: Settings, weibo: FakeWeiboServer
) -> None:
    """The broker frozen (SIGSTOP) while a page is published: no ack, so no cursor move; it resumes after."""
    kafka = stack.kafka.model_copy(update={"request_timeout_ms": 1500})
    settings = _settings(stack.model_copy(update={"kafka": kafka}), weibo)
    from monitor.embedded import EmbeddedServices

    broker_pid = next(
        p.pid
        for name, p in EmbeddedServices(stack, stack.services_dir).recorded().items()
        if name == "kafka"
    )
    service = PollerService(settings, targets=[Target("post", POST, 3600, 50)], clock=FakeClock())
    stop = asyncio.Event()
    os.kill(broker_pid, signal.SIGSTOP)
    try:
        task = asyncio.create_task(service.run(stop))
        await asyncio.sleep(4)  # publishing fails and is retried meanwhile
        assert await _cursor(settings, f"post:{POST}") is None
        redis = connect_redis(settings.redis)
        assert await redis.zcard(f"{settings.redis.key_prefix}seen:{POST}") == 0
        await redis.aclose()
    finally:
        os.kill(broker_pid, signal.SIGCONT)
    while service.poller is None or service.poller.published < 35:
        assert not task.done(), task
        await asyncio.sleep(0.05)
    stop.set()
    await task
    ids = [c.comment_id for c in await _published(settings)]
    assert len(set(ids)) == 35
    assert service.metrics.value("comments_published_total", source="weibo") == 35
