"""One way to open Redis: URL, password and TLS from settings, retries on connection errors."""

from __future__ import annotations

from typing import Any

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from monitor.errors import ConfigError
from monitor.settings import RedisSettings

__all__ = ["connect_redis"]


def connect_redis(
    settings: RedisSettings, *, retries: int = 2, socket_timeout: float = 5.0
) -> Redis:
    if settings.url is None:
        raise ConfigError("no Redis address: set LOVELORN_REDIS__URL or run `lovelorn services up`")
    options: dict[str, Any] = {
        "socket_timeout": socket_timeout,
        "socket_connect_timeout": socket_timeout,
        "retry": Retry(ExponentialBackoff(cap=2.0, base=0.05), retries),
        "retry_on_error": [RedisConnectionError, RedisTimeoutError],
        "health_check_interval": 30,
    }
    if settings.password is not None:
        options["password"] = settings.password.get_secret_value()
    if settings.url.startswith("rediss://") and settings.ssl_ca_certs:
        options["ssl_ca_certs"] = str(settings.ssl_ca_certs)
    return Redis.from_url(settings.url, **options)
