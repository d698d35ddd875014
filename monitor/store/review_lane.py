"""Non-alerting comments the scorer samples for review (written once each, SET NX like
alerts), plus hourly histograms of every live score for the drift statistic; the console
reads both back."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import datetime

from monitor.schemas import Sampled, Score, encode
from monitor.store.client import Store, as_text
from monitor.store.verdicts import score_bin

__all__ = ["ReviewLane"]

HISTOGRAM_TTL_S = 8 * 24 * 3600


# KEYS: dedupe, lane   ARGV: ttl, maxlen, sample id, user, sample json
_SAMPLE = """
if not redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[1]) then return 0 end
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], '*', 'sample_id', ARGV[3], 'user', ARGV[4], 'sample', ARGV[5])
return 1
"""


class ReviewLane:
    """What the scorer writes for review and drift; the console reads it back."""

    def __init__(self, store: Store) -> None:
        self._store, self._redis, self.keys = store, store.redis, store.keys
        self._script = store.redis.register_script(_SAMPLE)

    async def write(self, samples: Sequence[Sampled], scores: Sequence[Score]) -> int:
        """Each sample once (safe to repeat); every score counted into its hour's histogram
        (a batch redelivered after a crash counts twice: fine for a drift statistic)."""
        s = self._store.settings
        bins = Counter(
            (score.model_version, f"{score.scored_at:%Y%m%d%H}", score_bin(score.score))
            for score in scores
        )
        with self._store.errors(f"writing {len(samples)} review sample(s)"):
            async with self._redis.pipeline(transaction=False) as pipe:
                for sample in samples:
                    keys = [self.keys.sample(sample.sample_id), self.keys.review_lane]
                    args = [s.alert_dedupe_ttl_s, s.alert_stream_maxlen, sample.sample_id]
                    args += [sample.user_id or "", encode(sample)]
                    await self._script(keys=keys, args=args, client=pipe)
                for (version, hour, bin_), n in bins.items():
                    key = self.keys.score_histogram(version, hour)
                    pipe.hincrby(key, str(bin_), n)
                    pipe.expire(key, HISTOGRAM_TTL_S)
                if bins:
                    pipe.sadd(self.keys.score_versions, *{version for version, _, _ in bins})
                results = await pipe.execute()
        return sum(1 for r in results[: len(samples)] if r == 1)

    async def histogram(self, version: str, hours: Iterable[datetime]) -> Counter[int]:
        """Live score counts of ``version`` by bin, summed over the given hours."""
        total: Counter[int] = Counter()
        with self._store.errors(f"reading score histograms of {version}"):
            async with self._redis.pipeline(transaction=False) as pipe:
                for hour in hours:
                    pipe.hgetall(self.keys.score_histogram(version, f"{hour:%Y%m%d%H}"))
                for part in await pipe.execute():
                    total.update({int(k): int(v) for k, v in part.items()})
        return total

    async def versions(self) -> list[str]:
        with self._store.errors("reading scored model versions"):
            return sorted(as_text(v) for v in await self._redis.smembers(self.keys.score_versions))
