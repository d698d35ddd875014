"""Alerts pushed to a team's HTTP endpoint: signed, retried, at least once.

Each alert is one POST of its Alert v1 JSON (the Kafka payload) with these headers:

    Idempotency-Key, X-Lovelorn-Alert-Id   the alert id: stable per comment and model
                                           version, so the receiver drops repeats by it
    X-Lovelorn-Timestamp                   unix seconds at signing
    X-Lovelorn-Signature                   sha256=<hex HMAC-SHA256(secret, "<ts>.<body>")>

Receivers check with ``verify``: recompute, compare in constant time, refuse stale
timestamps (a captured request cannot be replayed later).

Delivery: one alert is retried with backoff (``monitor.retry.Retry``) after connection
errors, timeouts, 408/425/429 and 5xx, for ``retry_timeout_s``; then the batch raises
SinkBackpressure, the scorer holds it, retries it and commits nothing past it. Alerts the
endpoint already took are not posted again on that retry (a crash can still repeat them:
hence the idempotency key). Any other 4xx means the receiver refuses the payload, which no
retry can fix and which must not stall every other sink: it is logged and counted as
rejected. 409 (already have it) counts as a duplicate.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time
from collections import OrderedDict
from collections.abc import Mapping, Sequence

import httpx
import structlog

from monitor.errors import ConfigError, SinkBackpressure, SinkError
from monitor.retry import Retry
from monitor.schemas import Alert, Score, encode
from monitor.settings import WebhookSettings
from monitor.sinks.base import Delivery

__all__ = ["WebhookSink", "sign", "signed_headers", "verify"]

log = structlog.get_logger()
REMEMBERED = 10_000  # alert ids taken by the endpoint, not posted again on a batch retry


class _Transient(SinkError):
    """One POST that may succeed later."""

    retriable = True

    def __init__(self, message: str, retry_after: float = 0.0) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def sign(secret: bytes, timestamp: int, body: bytes) -> str:
    return "sha256=" + hmac.new(secret, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def signed_headers(secret: bytes, body: bytes, alert_id: str, now: float) -> dict[str, str]:
    timestamp = int(now)
    return {
        "Content-Type": "application/json",
        "Idempotency-Key": alert_id,
        "X-Lovelorn-Alert-Id": alert_id,
        "X-Lovelorn-Timestamp": str(timestamp),
        "X-Lovelorn-Signature": sign(secret, timestamp, body),
    }


def verify(
    secret: bytes,
    body: bytes,
    headers: Mapping[str, str],
    *,
    tolerance_s: float = 300.0,
    now: float | None = None,
) -> bool:
    """What a receiver runs: the signature matches and the timestamp is recent."""
    lowered = {k.lower(): v for k, v in headers.items()}
    try:
        timestamp = int(lowered["x-lovelorn-timestamp"])
    except (KeyError, ValueError):
        return False
    if abs((time.time() if now is None else now) - timestamp) > tolerance_s:
        return False
    expected = sign(secret, timestamp, body)
    return hmac.compare_digest(expected, lowered.get("x-lovelorn-signature", ""))


class WebhookSink:
    name = "webhook"

    def __init__(
        self, settings: WebhookSettings, *, client: httpx.AsyncClient | None = None
    ) -> None:
        if not settings.url:
            raise ConfigError("the webhook sink needs webhook.url (LOVELORN_WEBHOOK__URL)")
        if settings.secret is None:
            raise ConfigError(
                "webhook.url is set but webhook.secret is not: set LOVELORN_WEBHOOK__SECRET "
                "so receivers can check the signature"
            )
        self._url = settings.url
        self._secret = settings.secret.get_secret_value().encode()
        self._policies = set(settings.policies)
        self._client = client or httpx.AsyncClient(timeout=settings.timeout_s)
        self._owns_client = client is None
        self._retry = Retry(
            f"webhook {settings.url}",
            base_s=0.5,
            cap_s=10.0,
            retry_on=(_Transient,),
            timeout_s=settings.retry_timeout_s,
        )
        self._slots = asyncio.Semaphore(settings.concurrency)
        self._taken: OrderedDict[str, None] = OrderedDict()

    async def write(self, alerts: Sequence[Alert], scores: Sequence[Score]) -> Delivery:
        wanted = [a for a in alerts if self._wanted(a) and a.alert_id not in self._taken]
        outcomes = await asyncio.gather(*(self._deliver(a) for a in wanted), return_exceptions=True)
        failed = [o for o in outcomes if isinstance(o, BaseException)]
        for outcome in failed:
            if not isinstance(outcome, Exception):
                raise outcome  # cancellation and the like: never swallowed
        if failed:
            raise SinkBackpressure(
                f"webhook {self._url}: {len(failed)} of {len(wanted)} alert(s) undelivered "
                f"({failed[0]})",
                retry_after=1.0,
            )
        return Delivery(
            self.name,
            written=outcomes.count("written"),
            duplicates=outcomes.count("duplicate"),
            details={
                "rejected": outcomes.count("rejected"),
                "not_for_this_hook": len(alerts) - len(wanted),
            },
        )

    async def aclose(self) -> None:
        if self._owns_client:
            await self._client.aclose()

    def _wanted(self, alert: Alert) -> bool:
        return not self._policies or bool(self._policies.intersection(alert.policies))

    async def _deliver(self, alert: Alert) -> str:
        body = encode(alert)
        async with self._slots:
            outcome = await self._retry.call(lambda: self._post(alert.alert_id, body))
        self._taken[alert.alert_id] = None
        while len(self._taken) > REMEMBERED:
            self._taken.popitem(last=False)
        return outcome

    async def _post(self, alert_id: str, body: bytes) -> str:
        headers = signed_headers(self._secret, body, alert_id, time.time())  # fresh per attempt
        try:
            response = await self._client.post(self._url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise _Transient(f"POST {self._url} failed: {exc!r}") from exc
        status = response.status_code
        if status in (408, 425, 429) or status >= 500:
            raise _Transient(f"POST {self._url}: HTTP {status}", _retry_after(response))
        if status == 409:
            return "duplicate"
        if status >= 300:
            log.error("webhook_rejected", url=self._url, alert_id=alert_id, status=status)
            return "rejected"
        return "written"


def _retry_after(response: httpx.Response) -> float:
    try:
        return min(60.0, float(response.headers.get("Retry-After", 0)))
    except ValueError:
        return 0.0
