"""structlog set-up: JSON lines for services, readable console lines for people.

Called once by the CLI entry point; library code only calls ``structlog.get_logger()``.
Secret values never reach a log line: settings keep them as SecretStr and the
``_redact`` processor masks any key that looks like a credential.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any, Literal

import structlog

__all__ = ["configure_logging"]

_SECRET_KEYS = ("cookie", "password", "secret", "token", "pseudonym_key", "authorization")


def _redact(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key in event:
        if any(word in key.lower() for word in _SECRET_KEYS):
            event[key] = "**********"
    return event


class _CurrentStderr:
    """Writes to whatever ``sys.stderr`` is now (test runners swap it)."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()

    def isatty(self) -> bool:
        return sys.stderr.isatty()


def configure_logging(
    fmt: Literal["auto", "json", "console"] = "auto", level: str = "info", stream: Any = None
) -> None:
    stream = stream or _CurrentStderr()
    if fmt == "auto":
        fmt = "console" if stream.isatty() else "json"
    renderer: Any = (
        structlog.processors.JSONRenderer(ensure_ascii=False)
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=stream.isatty())
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            _redact,
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(stream),
        cache_logger_on_first_use=False,
    )
    # aiokafka and friends log through stdlib logging. Their connection errors repeat what
    # our own boundaries already report in one line (and "Unclosed" warnings come from
    # clients we close), so they only show in debug mode.
    logging.basicConfig(
        level=logging.WARNING, stream=stream, format="%(levelname)s %(name)s: %(message)s"
    )
    debug = level.lower() == "debug"
    for name in ("aiokafka", "kafka"):
        # not printed, but still seen by monitor.bus (it quotes the reason of a refused login);
        # the NullHandler keeps logging's last-resort stderr handler from printing them anyway
        logger = logging.getLogger(name)
        logger.propagate = debug
        if not any(isinstance(h, logging.NullHandler) for h in logger.handlers):
            logger.addHandler(logging.NullHandler())
    logging.getLogger("asyncio").setLevel(logging.DEBUG if debug else logging.CRITICAL)
