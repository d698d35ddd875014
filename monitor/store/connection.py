"""Opening Redis, and the one place redis-py errors become the monitor's own.

Like httpx's transport mapping: a connection that fails, times out or is refused becomes
StoreUnavailable (retriable: every loop waits it out through ``monitor.retry``); a
rejected password becomes a StoreError that says which setting to fix; anything else
redis-py raises becomes a StoreError naming the operation.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.retry import Retry as RedisRetry
from redis.backoff import NoBackoff
from redis.exceptions import AuthenticationError, BusyLoadingError, RedisError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from monitor.errors import ConfigError, StoreError, StoreUnavailable
from monitor.settings import RedisSettings, mask_url

__all__ = ["connect", "masked_url", "translate_errors"]


def masked_url(url: str | None) -> str:
    """The URL with any password replaced, for messages."""
    return str(mask_url(url))


def connect(settings: RedisSettings, *, socket_timeout: float = 5.0) -> Redis:
    """A client with no retries of its own: ``monitor.retry.Retry`` decides how to wait."""
    if settings.url is None:
        raise ConfigError("no Redis address: set LOVELORN_REDIS__URL or run `lovelorn services up`")
    options: dict[str, Any] = {
        "socket_timeout": socket_timeout,
        "socket_connect_timeout": socket_timeout,
        "retry": RedisRetry(NoBackoff(), 0),
        "health_check_interval": 30,
    }
    if settings.password is not None:
        options["password"] = settings.password.get_secret_value()
    if settings.url.startswith("rediss://") and settings.ssl_ca_certs:
        options["ssl_ca_certs"] = str(settings.ssl_ca_certs)
    return Redis.from_url(settings.url, **options)


@contextlib.contextmanager
def translate_errors(what: str, url: str | None = None) -> Iterator[None]:
    where = f" at {masked_url(url)}" if url else ""
    try:
        yield
    except AuthenticationError as exc:  # a subclass of ConnectionError: check it first
        raise StoreError(
            f"{what}: Redis{where} refused the credentials ({exc}); check "
            "LOVELORN_REDIS__PASSWORD or the password in LOVELORN_REDIS__URL"
        ) from None
    except (RedisConnectionError, RedisTimeoutError, BusyLoadingError, OSError) as exc:
        raise StoreUnavailable(f"{what}: Redis{where} unavailable ({exc})") from exc
    except RedisError as exc:
        raise StoreError(f"{what}: Redis{where}: {exc}") from exc
