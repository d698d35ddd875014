"""The webhook sink against a real local HTTP endpoint: signatures, idempotency keys,
retries with backoff, at-least-once via backpressure, refusals, policy filters."""

from __future__ import annotations

import hashlib
import hmac
import json
import time

import pytest

from monitor.errors import ConfigError, SinkBackpressure
from monitor.settings import WebhookSettings
from monitor.sinks.webhook import WebhookSink, sign, signed_headers, verify
from tests.console.helpers import make_alert
from tests.sinks.receiver import receiving

SECRET = "hook-secret-for-tests"


def _settings(url: str, **extra: object) -> WebhookSettings:
    options: dict[str, object] = {"retry_timeout_s": 3.0} | extra
    return WebhookSettings(url=url, secret=SECRET, **options)  # type: ignore[arg-type]


def test_signature_is_hmac_sha256_over_timestamp_and_body() -> None:
    body, now = b'{"alert_id": "a1"}', 1_800_000_000
    headers = signed_headers(SECRET.encode(), body, "a1", now)
    expected = hmac.new(SECRET.encode(), b"1800000000." + body, hashlib.sha256).hexdigest()
    assert (
        headers["X-Lovelorn-Signature"] == f"sha256={expected}" == sign(SECRET.encode(), now, body)
    )
    assert headers["Idempotency-Key"] == headers["X-Lovelorn-Alert-Id"] == "a1"
    assert verify(SECRET.encode(), body, headers, now=now + 10)
    assert not verify(SECRET.encode(), body + b" ", headers, now=now)  # body changed
    assert not verify(b"other", body, headers, now=now)  # wrong key
    assert not verify(SECRET.encode(), body, headers, now=now + 301)  # replayed later
    assert not verify(SECRET.encode(), body, {}, now=now)


def test_refuses_a_url_without_a_secret() -> None:
    with pytest.raises(ConfigError, match=r"webhook\.secret"):
        WebhookSink(WebhookSettings(url="https://hooks.example/x"))
    with pytest.raises(ValueError):
        WebhookSettings(url="ftp://x")


async def test_delivers_signed_alerts_and_retries_transient_failures() -> None:
    async with receiving(script=[503, 429]) as receiver:
        sink = WebhookSink(_settings(receiver.url))
        alerts = [make_alert(i) for i in range(3)]
        started = time.monotonic()
        delivery = await sink.write(alerts, [])
        await sink.aclose()
    assert delivery.written == 3 and time.monotonic() - started < 3
    assert len(receiver.requests) == 5  # two refusals, then each alert once
    delivered = {}
    for headers, body in receiver.requests:
        assert verify(SECRET.encode(), body, headers)
        delivered[headers["idempotency-key"]] = json.loads(body)
    assert sorted(delivered) == sorted(a.alert_id for a in alerts)
    assert all(delivered[a.alert_id]["text"] == a.text for a in alerts)


async def test_an_endpoint_that_stays_down_holds_the_batch_and_nothing_is_sent_twice() -> None:
    async with receiving(script=[200, *[500] * 200]) as receiver:
        sink = WebhookSink(_settings(receiver.url, retry_timeout_s=1.0, concurrency=1))
        alerts = [make_alert(i) for i in range(2)]
        with pytest.raises(SinkBackpressure, match="1 of 2"):
            await sink.write(alerts, [])
        taken = receiver.requests[0][0]["idempotency-key"]
        receiver.script.clear()  # the endpoint is back
        receiver.requests.clear()
        again = await sink.write(alerts, [])  # the scorer's retry of the held batch
        await sink.aclose()
    assert again.written == 1
    assert [h["idempotency-key"] for h, _ in receiver.requests] == [
        a.alert_id for a in alerts if a.alert_id != taken
    ]


async def test_refused_payloads_are_counted_not_retried_and_policies_filter() -> None:
    async with receiving(script=[400, 409]) as receiver:
        sink = WebhookSink(_settings(receiver.url, policies=["ads"], concurrency=1))
        alerts = [make_alert(0, ["care"]), make_alert(1, ["ads", "care"]), make_alert(2, ["ads"])]
        delivery = await sink.write(alerts, [])
        await sink.aclose()
    assert len(receiver.requests) == 2  # the care-only alert is not for this hook
    assert delivery.details == {"rejected": 1, "not_for_this_hook": 1}
    assert delivery.duplicates == 1 and delivery.written == 0


async def test_an_unreachable_endpoint_is_backpressure() -> None:
    from monitor.embedded.processes import free_port

    sink = WebhookSink(_settings(f"http://127.0.0.1:{free_port()}/hook", retry_timeout_s=0.5))
    with pytest.raises(SinkBackpressure, match="undelivered"):
        await sink.write([make_alert(0)], [])
    await sink.aclose()
