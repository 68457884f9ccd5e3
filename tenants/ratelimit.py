"""The one rate limiter of every entry point: the API throttle (`tenants.api.TenantRateThrottle`), the
Segment-compatible `/v1/*` endpoints and the public forms all call `hit()`.

In Redis it is an exact sliding window: one Lua script trims the key's log of the last `period` seconds,
counts it and records the hit only when under the limit, atomically. (DRF's `SimpleRateThrottle` reads the
history list, decides, and writes it back: concurrent requests all read the same list, which let 1,292
requests through against 1,200/min in issue #19.)

When Redis cannot be reached the limiter must not turn the outage into lost ingest (issue #19: every REST
ingest request answered 500 while Redis was down): a token bucket in this process takes over, with the same
limit per process, and the switch is logged once; Redis is tried again every `RETRY_REDIS_AFTER_SECONDS`
(not on every request: a black-holed Redis would otherwise cost every request a connect timeout).
"""

from __future__ import annotations

import logging
import math
import threading
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass

from django.core.cache import caches

logger = logging.getLogger("ondo.ratelimit")

RETRY_REDIS_AFTER_SECONDS = 2.0
LOCAL_MAX_KEYS = 10_000

# KEYS[1]: the key's log (a sorted set of hits scored by milliseconds). ARGV: limit, period in ms, a unique
# member for this hit. Returns {1, 0} when the hit is allowed (and recorded), else {0, ms until the oldest
# hit of the window leaves it}. Redis's clock, so every application server shares one.
_SLIDING_WINDOW = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) * 1000 + math.floor(tonumber(now_parts[2]) / 1000)
local limit = tonumber(ARGV[1])
local period = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - period)
if redis.call('ZCARD', KEYS[1]) < limit then
    redis.call('ZADD', KEYS[1], now, ARGV[3])
    redis.call('PEXPIRE', KEYS[1], period)
    return {1, 0}
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return {0, tonumber(oldest[2]) + period - now}
"""


@dataclass(frozen=True)
class Decision:
    allowed: bool
    retry_after: int = 0  # whole seconds to wait (at least 1) when not allowed


class _LocalBuckets:
    """Token buckets in this process, one per key: `limit` tokens, refilled at limit/period per second."""

    def __init__(self):
        self._lock = threading.Lock()
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def hit(self, key: str, *, limit: int, period: int) -> Decision:
        rate = limit / period
        now = time.monotonic()
        with self._lock:
            tokens, stamp = self._buckets.pop(key, (float(limit), now))
            tokens = min(float(limit), tokens + (now - stamp) * rate)
            allowed = tokens >= 1
            if allowed:
                tokens -= 1
            self._buckets[key] = (tokens, now)
            while len(self._buckets) > LOCAL_MAX_KEYS:
                self._buckets.popitem(last=False)
        if allowed:
            return Decision(True)
        return Decision(False, max(1, math.ceil((1 - tokens) / rate)))

    def clear(self):
        with self._lock:
            self._buckets.clear()


_local = _LocalBuckets()
_state_lock = threading.Lock()
_redis_down_since: float | None = None  # monotonic time of the failure that switched to the local buckets
_retry_redis_at = 0.0


def _redis_client():
    """The Redis client of the default cache, or None when the cache is not Redis (quickstart, LocMem)."""
    cache = caches["default"]
    backend = getattr(cache, "_cache", None)
    if backend is None or not hasattr(backend, "get_client"):
        return None, cache
    return backend.get_client(write=True), cache


def _redis_hit(key: str, *, limit: int, period: int) -> Decision | None:
    client, cache = _redis_client()
    if client is None:
        return None
    name = cache.make_key(f"ondo:rl:{key}")
    allowed, wait_ms = client.eval(_SLIDING_WINDOW, 1, name, limit, period * 1000, uuid.uuid4().hex)
    if allowed:
        return Decision(True)
    return Decision(False, max(1, math.ceil(int(wait_ms) / 1000)))


def _note_redis_failure(error: Exception) -> None:
    global _redis_down_since, _retry_redis_at
    with _state_lock:
        first = _redis_down_since is None
        if first:
            _redis_down_since = time.monotonic()
        _retry_redis_at = time.monotonic() + RETRY_REDIS_AFTER_SECONDS
    if first:
        logger.warning("rate limiter: Redis unavailable (%s); limiting in-process until it answers again", error)


def _note_redis_answered() -> None:
    global _redis_down_since
    with _state_lock:
        down_since, _redis_down_since = _redis_down_since, None
    if down_since is not None:
        logger.info("rate limiter: Redis answers again after %.0f s; counting in Redis", time.monotonic() - down_since)


def hit(key: str, *, limit: int, period: int) -> Decision:
    """Count one request against `limit` per `period` seconds for `key`; never raises for Redis trouble."""
    if _redis_down_since is None or time.monotonic() >= _retry_redis_at:
        from redis.exceptions import RedisError

        try:
            decision = _redis_hit(key, limit=limit, period=period)
        except (RedisError, OSError) as error:
            _note_redis_failure(error)
        else:
            if decision is not None:
                _note_redis_answered()
                return decision
    return _local.hit(key, limit=limit, period=period)


def reset_local_state() -> None:
    """Forget the in-process buckets and any recorded outage (tests)."""
    global _redis_down_since, _retry_redis_at
    _local.clear()
    with _state_lock:
        _redis_down_since, _retry_redis_at = None, 0.0
