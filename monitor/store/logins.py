"""Failed-login counts for the console's throttle, per account and per client address.

Each subject (``account:<name>``, ``address:<ip>``) is a hash ``{n, last}`` under
``<prefix>console:login:``: how many attempts failed, and when the last one was made
(Redis time, so every console process uses one clock). ``attempt`` is one Lua script that
either refuses (returning the wait left) or counts the attempt as a failure *before* the
password is checked; a correct password then takes it back (``succeeded``). Counting first
is what makes the limit hold against parallel guesses: a burst of 100 requests cannot all
pass the check before the first failure is written.

The wait after ``n`` failures (``n >= free``) is ``base * 2**(n - free)``, capped, counted
from the last failure; keys expire ``forget`` after the last failure.
"""

from __future__ import annotations

from collections.abc import Sequence

from monitor.settings import LoginSettings
from monitor.store.client import Store

__all__ = ["LoginThrottle"]

_ATTEMPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local free, base = tonumber(ARGV[1]), tonumber(ARGV[2])
local cap, forget = tonumber(ARGV[3]), tonumber(ARGV[4])
local wait = 0
for _, key in ipairs(KEYS) do
  local state = redis.call('HMGET', key, 'n', 'last')
  local n = tonumber(state[1]) or 0
  if n >= free then
    local delay = math.min(cap, base * 2 ^ (n - free))
    wait = math.max(wait, (tonumber(state[2]) or 0) + delay - now)
  end
end
if wait > 0 then
  return math.ceil(wait)
end
for _, key in ipairs(KEYS) do
  redis.call('HINCRBY', key, 'n', 1)
  redis.call('HSET', key, 'last', now)
  redis.call('PEXPIRE', key, forget)
end
return 0
"""

_SUCCEEDED = """
redis.call('DEL', KEYS[1])
for i = 2, #KEYS do
  if tonumber(redis.call('HGET', KEYS[i], 'n') or '0') > 0 then
    redis.call('HINCRBY', KEYS[i], 'n', -1)
  end
end
return 1
"""


class LoginThrottle:
    def __init__(self, store: Store, settings: LoginSettings) -> None:
        self._store = store
        self._prefix = f"{store.keys.prefix}console:login:"
        self._attempt = store.redis.register_script(_ATTEMPT)
        self._succeeded = store.redis.register_script(_SUCCEEDED)
        self._args = [
            settings.free_failures,
            int(settings.backoff_s * 1000),
            int(settings.backoff_cap_s * 1000),
            int(settings.forget_s * 1000),
        ]

    def _keys(self, account: str, addresses: Sequence[str]) -> list[str]:
        return [f"{self._prefix}account:{account}"] + [
            f"{self._prefix}address:{a}" for a in addresses
        ]

    async def attempt(self, account: str, *addresses: str) -> float:
        """0 when a login attempt may go ahead (it is counted as failed until ``succeeded``),
        else the seconds to wait, and the attempt is not counted."""
        with self._store.errors("checking the login throttle"):
            wait_ms = await self._attempt(keys=self._keys(account, addresses), args=self._args)
        return int(wait_ms) / 1000

    async def succeeded(self, account: str, *addresses: str) -> None:
        """A correct password: the account starts afresh, and the addresses get back the
        failure ``attempt`` counted (their earlier failures stay: someone who knows one
        password must not be able to clear an address that guesses at others)."""
        with self._store.errors("clearing the login throttle"):
            await self._succeeded(keys=self._keys(account, addresses), args=[])
