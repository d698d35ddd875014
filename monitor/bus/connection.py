"""Connection options shared by producer, consumer and admin client, and error mapping."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import ssl
import time
from collections.abc import Iterator
from typing import Any, Self

import structlog
from aiokafka.errors import KafkaError

from monitor.errors import BusError, ConfigError
from monitor.settings import KafkaSettings

log = structlog.get_logger()
SILENT_S = 5.0  # a broker call unanswered this long is logged (translate_errors)

__all__ = ["SILENT_S", "KafkaClient", "connection_options", "translate_errors", "watch_silence"]


def connection_options(kafka: KafkaSettings) -> dict[str, Any]:
    if kafka.bootstrap_servers is None:
        raise ConfigError(
            "no Kafka address: set LOVELORN_KAFKA__BOOTSTRAP_SERVERS or run `lovelorn services up`"
        )
    options: dict[str, Any] = {
        "bootstrap_servers": kafka.bootstrap_servers.split(","),
        "security_protocol": kafka.security_protocol,
        "request_timeout_ms": kafka.request_timeout_ms,
    }
    if kafka.security_protocol in ("SSL", "SASL_SSL"):
        context = ssl.create_default_context(
            cafile=str(kafka.ssl_cafile) if kafka.ssl_cafile else None
        )
        if kafka.ssl_certfile:
            context.load_cert_chain(
                str(kafka.ssl_certfile), str(kafka.ssl_keyfile) if kafka.ssl_keyfile else None
            )
        options["ssl_context"] = context
    if kafka.security_protocol.startswith("SASL"):
        if not (kafka.sasl_mechanism and kafka.sasl_username and kafka.sasl_password):
            raise ConfigError(
                "kafka.security_protocol SASL_* needs kafka.sasl_mechanism, sasl_username and sasl_password"
            )
        options |= {
            "sasl_mechanism": kafka.sasl_mechanism,
            "sasl_plain_username": kafka.sasl_username,
            "sasl_plain_password": kafka.sasl_password.get_secret_value(),
        }
    return options


@contextlib.contextmanager
def translate_errors(what: str, *, silent_after_s: float | None = None) -> Iterator[None]:
    """aiokafka errors become BusError naming the operation (and a silent broker is logged:
    ``watch_silence``); nothing else is touched."""
    with watch_silence(what, silent_after_s):
        try:
            yield
        except KafkaError as exc:
            error = BusError(f"{what}: {type(exc).__name__}: {exc}")
            error.retriable = bool(getattr(exc, "retriable", True))
            raise error from exc


@contextlib.contextmanager
def watch_silence(what: str, after_s: float | None = None) -> Iterator[None]:
    """A frozen broker raises nothing until the request timeout (~40 s): a wait still
    unanswered after ``after_s`` (default SILENT_S; ``math.inf``: never) is logged once as
    ``unavailable``, the line a frozen Redis gets, and its late answer as ``kafka_answered``."""
    after = SILENT_S if after_s is None else after_s
    started, timer = time.monotonic(), None
    if math.isfinite(after):
        with contextlib.suppress(RuntimeError):  # no running loop: nothing to watch
            timer = asyncio.get_running_loop().call_later(after, _silent, what, after)
    try:
        yield
    finally:
        if timer is not None:
            timer.cancel()
            if (waited := time.monotonic() - started) >= after:
                log.info("kafka_answered", what=what, after_s=round(waited, 1))


def _silent(what: str, after_s: float) -> None:
    log.warning(
        "unavailable",
        what=f"kafka ({what})",
        error=f"no answer for {after_s:.0f} s: the broker is frozen, overloaded or unreachable",
        retrying=True,
    )


class _Reasons(logging.Handler):
    """aiokafka raises only "Unable to bootstrap" for a refused password or an untrusted
    certificate and logs the real reason; this keeps the reason for our error message."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        with contextlib.suppress(Exception):
            self.messages.append(record.getMessage())

    def explain(self, error: BusError, kafka: KafkaSettings, what: str) -> BusError:
        seen = " ".join(self.messages)
        if "SaslAuthenticationFailed" in seen or "Authentication failed" in seen:
            fixed = BusError(
                f"{what}: the broker refused the SASL credentials of user "
                f"{kafka.sasl_username!r} ({kafka.sasl_mechanism}): check kafka.sasl_username "
                "and kafka.sasl_password"
            )
        elif "CERTIFICATE_VERIFY_FAILED" in seen:
            fixed = BusError(
                f"{what}: the broker's TLS certificate is not trusted: check kafka.ssl_cafile"
            )
        else:
            return error
        fixed.retriable = False  # waiting will not fix a setting
        return fixed


@contextlib.contextmanager
def explaining(kafka: KafkaSettings, what: str) -> Iterator[None]:
    """``translate_errors`` for connecting: a refused password or an untrusted certificate
    (which aiokafka only logs) becomes a non-retriable BusError that says so."""
    reasons = _Reasons()
    logger = logging.getLogger("aiokafka")
    logger.addHandler(reasons)
    try:
        with translate_errors(what):
            yield
    except BusError as exc:
        raise reasons.explain(exc, kafka, what) from exc
    finally:
        logger.removeHandler(reasons)


class KafkaClient:
    """Start once, stop once, ``async with``: the lifecycle producer and consumer share.

    Subclasses set ``_kafka`` and ``_role`` and build the aiokafka object in ``_make()``.
    A start that fails closes what it opened (no "Unclosed" warnings later), and the next
    start builds a fresh client: aiokafka objects cannot be restarted.
    """

    _client: Any = None
    _kafka: KafkaSettings
    _role: str
    _started: bool = False

    def _make(self) -> Any:
        raise NotImplementedError

    async def start(self) -> None:
        self._client = self._make()
        what = f"connecting {self._role} to {self._kafka.bootstrap_servers}"
        try:
            with explaining(self._kafka, what):
                await self._client.start()
                self._after_start()
        except BaseException:
            with contextlib.suppress(Exception):
                await self._client.stop()
            raise
        self._started = True

    def _after_start(self) -> None:
        """Hook for work that needs a started client (the consumer subscribes here)."""

    async def stop(self) -> None:
        if self._started:
            self._started = False
            with contextlib.suppress(KafkaError):
                await self._client.stop()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()
