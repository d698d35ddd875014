"""Alerts into Redis for care/ad services: a capped stream, a pub/sub channel, per-user state.

One Lua script per alert makes each alert atomic and idempotent: the dedupe key
(SET NX on the alert id, which is stable per comment and model version) is taken in the
same step as the stream entry, so a redelivered batch after a crash adds nothing twice,
and a crash between steps cannot leave a marked-but-missing alert.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from monitor.errors import SinkBackpressure
from monitor.schemas import Alert, Score, encode, utcnow
from monitor.settings import RedisSettings
from monitor.sinks.base import Delivery

__all__ = ["RedisKeys", "RedisSink"]

# KEYS: dedupe, user state, user cooldown, stream
# ARGV: dedupe ttl, score, now, user ttl, cooldown s, stream maxlen, channel, alert json, alert id, has user
_SCRIPT = """
if not redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[1]) then return 0 end
if ARGV[10] == '1' then
  redis.call('HINCRBY', KEYS[2], 'alerts', 1)
  redis.call('HSET', KEYS[2], 'latest_score', ARGV[2], 'last_seen', ARGV[3], 'last_alert_id', ARGV[9])
  redis.call('HSETNX', KEYS[2], 'first_seen', ARGV[3])
  redis.call('EXPIRE', KEYS[2], ARGV[4])
  if tonumber(ARGV[5]) > 0 then
    if not redis.call('SET', KEYS[3], ARGV[9], 'NX', 'EX', ARGV[5]) then return 2 end
  end
end
redis.call('XADD', KEYS[4], 'MAXLEN', '~', ARGV[6], '*', 'alert_id', ARGV[9], 'alert', ARGV[8])
redis.call('PUBLISH', ARGV[7], ARGV[8])
return 1
"""


class RedisKeys:
    """Key names under the configured prefix; consumers of alerts use the same ones."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.stream = f"{prefix}alerts"
        self.channel = f"{prefix}alerts:live"

    def dedupe(self, alert_id: str) -> str:
        return f"{self.prefix}alert:{alert_id}"

    def user(self, user_id: str) -> str:
        return f"{self.prefix}user:{user_id}"

    def cooldown(self, user_id: str) -> str:
        return f"{self.prefix}cooldown:{user_id}"


class RedisSink:
    name = "redis"

    def __init__(self, settings: RedisSettings, redis: Redis, *, cooldown_s: float) -> None:
        self._settings = settings
        self._redis = redis
        self._cooldown_s = math.ceil(cooldown_s)
        self.keys = RedisKeys(settings.key_prefix)
        self._script = redis.register_script(_SCRIPT)

    async def start(self) -> None:
        """The client is shared and owned by the scorer service."""

    async def stop(self) -> None:
        """Nothing of its own to close."""

    async def write(self, alerts: Sequence[Alert], scores: Sequence[Score]) -> Delivery:
        delivery = Delivery(self.name)
        if not alerts:
            return delivery
        now = utcnow().isoformat()
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                for alert in alerts:
                    user = alert.user_id or ""
                    await self._script(
                        keys=[
                            self.keys.dedupe(alert.alert_id),
                            self.keys.user(user),
                            self.keys.cooldown(user),
                            self.keys.stream,
                        ],
                        args=[
                            self._settings.alert_dedupe_ttl_s,
                            f"{alert.score:.6f}",
                            now,
                            self._settings.user_state_ttl_s,
                            self._cooldown_s,
                            self._settings.alert_stream_maxlen,
                            self.keys.channel,
                            encode(alert),
                            alert.alert_id,
                            "1" if user else "0",
                        ],
                        client=pipe,
                    )
                results = await pipe.execute()
        except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
            raise SinkBackpressure(f"Redis sink: {exc}", retry_after=1.0) from exc
        for result in results:
            if result == 1:
                delivery.written += 1
            elif result == 2:
                delivery.suppressed += 1
            else:
                delivery.duplicates += 1
        return delivery
