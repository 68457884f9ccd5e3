"""The one rate limiter behind the API throttle, /v1/* and the public forms: exact under concurrency
(an atomic counter in Redis, not DRF's read-modify-write of a history list), and never a 5xx when
Redis is away (a token bucket in this process takes over, logged once)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace

import pytest
from rest_framework.test import APIClient

from tenants import ratelimit
from tenants.api import TenantRateThrottle
from tenants.models import TenantAPIKey

THREADS = 24


@pytest.fixture(autouse=True)
def _fresh_limiter():
    ratelimit.reset_local_state()
    yield
    ratelimit.reset_local_state()


def _fire_together(count: int, call) -> list:
    """Run `call` in `count` threads released at the same instant."""
    barrier = threading.Barrier(count)

    def one(_index):
        barrier.wait()
        return call()

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(one, range(count)))


class _Principal(SimpleNamespace):
    is_authenticated = True


def _throttle_request(pk: int):
    return SimpleNamespace(user=_Principal(pk=pk), META={"REMOTE_ADDR": "192.0.2.1"})


class TestExactUnderConcurrency:
    def test_the_api_throttle_lets_exactly_its_rate_through_when_requests_race(self, monkeypatch):
        monkeypatch.setattr(TenantRateThrottle, "rate", "5/min", raising=False)
        request = _throttle_request(pk=41)
        allowed = _fire_together(THREADS * 2, lambda: TenantRateThrottle().allow_request(request, None))
        assert allowed.count(True) == 5

    def test_the_limiter_counts_exactly_under_200_racing_hits(self):
        decisions = _fire_together(THREADS, lambda: [ratelimit.hit("race", limit=50, period=60) for _ in range(8)])
        flat = [decision for batch in decisions for decision in batch]
        assert len(flat) == THREADS * 8
        assert sum(decision.allowed for decision in flat) == 50
        refused = [decision for decision in flat if not decision.allowed]
        assert all(1 <= decision.retry_after <= 60 for decision in refused)

    @pytest.mark.django_db(transaction=True)
    def test_concurrent_api_requests_over_a_low_limit_get_exactly_that_many_200s(self, tenant, monkeypatch):
        monkeypatch.setattr(TenantRateThrottle, "rate", "7/min", raising=False)
        _key, plain = TenantAPIKey.objects.create_key(name="race", tenant=tenant)

        def get():
            client = APIClient(raise_request_exception=False)
            client.credentials(HTTP_AUTHORIZATION=f"Api-Key {plain}")
            return client.get("/api/v1/leads/").status_code

        statuses = _fire_together(16, get)
        assert sorted(statuses) == [200] * 7 + [429] * 9


class TestSlidingWindow:
    def test_a_refused_hit_says_how_long_to_wait_and_is_not_counted(self):
        assert [ratelimit.hit("w", limit=2, period=60).allowed for _ in range(3)] == [True, True, False]
        refused = ratelimit.hit("w", limit=2, period=60)
        assert not refused.allowed and 59 <= refused.retry_after <= 60

    def test_the_budget_is_per_key(self):
        assert ratelimit.hit("a", limit=1, period=60).allowed
        assert not ratelimit.hit("a", limit=1, period=60).allowed
        assert ratelimit.hit("b", limit=1, period=60).allowed


class TestRedisAway:
    @pytest.fixture
    def redis_refuses(self, monkeypatch):
        import redis

        def refuse(*args, **kwargs):
            raise redis.exceptions.ConnectionError("Connection refused (test)")

        monkeypatch.setattr(ratelimit, "_redis_hit", refuse)

    def test_it_limits_in_this_process_and_logs_once(self, redis_refuses, caplog):
        decisions = [ratelimit.hit("local", limit=3, period=60) for _ in range(5)]
        assert [decision.allowed for decision in decisions] == [True, True, True, False, False]
        assert decisions[-1].retry_after >= 1
        warnings = [r for r in caplog.records if r.name == "ondo.ratelimit" and r.levelname == "WARNING"]
        assert len(warnings) == 1 and "in-process" in warnings[0].getMessage()

    def test_the_api_answers_without_a_5xx(self, redis_refuses, tenant, monkeypatch):
        monkeypatch.setattr(TenantRateThrottle, "rate", "2/min", raising=False)
        _key, plain = TenantAPIKey.objects.create_key(name="away", tenant=tenant)
        client = APIClient(raise_request_exception=False)
        client.credentials(HTTP_AUTHORIZATION=f"Api-Key {plain}")
        statuses = [client.get("/api/v1/leads/").status_code for _ in range(3)]
        assert statuses == [200, 200, 429]

    def test_redis_is_used_again_when_it_answers(self, monkeypatch):
        calls = []
        real = ratelimit._redis_hit

        def flaky(*args, **kwargs):
            calls.append(1)
            if len(calls) == 1:
                import redis

                raise redis.exceptions.ConnectionError("down once")
            return real(*args, **kwargs)

        monkeypatch.setattr(ratelimit, "_redis_hit", flaky)
        monkeypatch.setattr(ratelimit, "RETRY_REDIS_AFTER_SECONDS", 0)
        assert ratelimit.hit("back", limit=5, period=60).allowed  # local
        assert ratelimit.hit("back", limit=5, period=60).allowed  # Redis again
        assert len(calls) == 2


class TestExemptKeys:
    @pytest.mark.django_db
    def test_a_key_named_in_the_setting_is_never_throttled(self, tenant, settings, monkeypatch):
        monkeypatch.setattr(TenantRateThrottle, "rate", "1/min", raising=False)
        exempt, exempt_plain = TenantAPIKey.objects.create_key(name="fuzzer", tenant=tenant)
        _other, other_plain = TenantAPIKey.objects.create_key(name="other", tenant=tenant)
        settings.ONDO_API_THROTTLE_EXEMPT_KEY_PREFIXES = [exempt.prefix]

        def statuses(plain):
            client = APIClient(raise_request_exception=False)
            client.credentials(HTTP_AUTHORIZATION=f"Api-Key {plain}")
            return [client.get("/api/v1/leads/").status_code for _ in range(3)]

        assert statuses(exempt_plain) == [200, 200, 200]
        assert statuses(other_plain) == [200, 429, 429]

    def test_no_key_is_exempt_by_default(self):
        from django.conf import settings

        assert list(getattr(settings, "ONDO_API_THROTTLE_EXEMPT_KEY_PREFIXES", [])) == []
