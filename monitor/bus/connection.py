"""Connection options shared by producer, consumer and admin client, and error mapping."""

from __future__ import annotations

import contextlib
import logging
import ssl
from collections.abc import Iterator
from typing import Any, Self

from aiokafka.errors import KafkaError

from monitor.errors import BusError, ConfigError
from monitor.settings import KafkaSettings

__all__ = ["KafkaClient", "connection_options", "translate_errors"]


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
def translate_errors(what: str) -> Iterator[None]:
    """aiokafka errors become BusError naming the operation; nothing else is touched."""
    try:
        yield
    except KafkaError as exc:
        error = BusError(f"{what}: {type(exc).__name__}: {exc}")
        error.retriable = bool(getattr(exc, "retriable", True))
        raise error from exc


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
