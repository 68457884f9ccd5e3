"""Faults: the database going away answers a clear 503; Redis going away loses nothing (ingestion
stores activities without the broker and the periodic reconciliation re-scores them when it is
back). The Redis server here is our own, started on a spare loopback port and killed mid-test."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from tenants.context import tenant_scope
from tenants.models import Role

pytestmark = pytest.mark.django_db(transaction=True)


def _spare_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _client(world, role=Role.ADMIN) -> Client:
    client = Client(raise_request_exception=False)
    client.force_login(world.users_a[role], backend="django.contrib.auth.backends.ModelBackend")
    return client


class TestDatabaseDown:
    @pytest.fixture
    def logged_in(self, committed_world):
        return _client(committed_world)  # session made before the outage

    @pytest.fixture
    def database_down(self, logged_in):
        """Point the connection at a closed port (new connections fail), then restore it."""
        params = connection.settings_dict
        saved = params["HOST"], params["PORT"]
        connection.close()
        params["HOST"], params["PORT"] = "127.0.0.1", str(_spare_port())
        yield
        connection.close()
        params["HOST"], params["PORT"] = saved

    def test_pages_answer_a_clear_503(self, committed_world, logged_in, database_down):
        for headers in ({}, {"HX-Request": "true"}):
            response = logged_in.get(f"/t/{committed_world.a.slug}/members/", headers=headers)
            assert response.status_code == 503
            assert response["Retry-After"] == "30"
            body = response.content.decode()
            assert "Traceback" not in body and "OperationalError" not in body
            assert "503" in body

    def test_a_form_post_answers_503_and_the_login_page_too(self, committed_world, logged_in, database_down):
        response = logged_in.post(f"/t/{committed_world.a.slug}/api-keys/", {"name": "x"})
        assert response.status_code == 503
        login = Client(raise_request_exception=False).post("/accounts/login/", {"login": "a@b.jp", "password": "x"})
        assert login.status_code == 503

    def test_the_api_answers_503_json_in_the_callers_language(self, committed_world, database_down):
        client = Client(
            raise_request_exception=False,
            HTTP_ACCEPT_LANGUAGE="en",
            headers={"Authorization": f"Api-Key {committed_world.plain_key_a}"},
        )
        response = client.get("/api/v1/leads/")
        assert response.status_code == 503
        assert "database is temporarily unavailable" in response.json()["detail"]

    def test_service_resumes_when_the_database_is_back(self, committed_world, logged_in):
        params = connection.settings_dict
        saved = params["PORT"]
        connection.close()
        params["PORT"] = str(_spare_port())
        try:
            assert logged_in.get(f"/t/{committed_world.a.slug}/members/").status_code == 503
        finally:
            connection.close()
            params["PORT"] = saved
        assert logged_in.get(f"/t/{committed_world.a.slug}/members/").status_code == 200


@pytest.fixture
def own_redis():
    """A redis-server of our own on a spare loopback port, as the Celery broker (not eager)."""
    from config.celery import app

    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail("redis-server is not installed (apt-get install redis-server)")
    port = _spare_port()
    command = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]

    class Server:
        url = f"redis://127.0.0.1:{port}/0"
        process = None

        def start(self):
            self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            for _ in range(100):
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
                    return
                except OSError:
                    time.sleep(0.05)
            raise RuntimeError("redis-server did not start")

        def kill(self):
            self.process.kill()
            self.process.wait(timeout=10)

        def queued(self) -> int:
            import redis

            return redis.Redis.from_url(self.url).llen("celery")

    server = Server()
    server.start()
    changed = ("broker_url", "task_always_eager", "broker_connection_timeout", "broker_connection_max_retries")
    saved = {key: app.conf.get(key) for key in changed}
    app.conf.update(
        broker_url=server.url, task_always_eager=False, broker_connection_timeout=1, broker_connection_max_retries=0
    )
    app._pool = None
    app.__dict__.pop("amqp", None)
    try:
        yield server
    finally:
        app.conf.update(**saved)
        # Drop every cached connection to the dead broker so later tests reach the real one again.
        if app._pool is not None:
            app._pool.force_close_all()
        app._pool = None
        app.__dict__.pop("amqp", None)
        if server.process.poll() is None:
            server.kill()


def _activity_items(count: int, *, prefix: str):
    now = timezone.now() - timedelta(minutes=5)
    return [
        {
            "type": "page_view",
            "email": f"{prefix}{i}@example.jp",
            "occurred_at": (now + timedelta(seconds=i)).isoformat(),
            "external_id": f"{prefix}-{i}",
            "url": "https://example.jp/pricing",
        }
        for i in range(count)
    ]


def _segment_messages(count: int, *, prefix: str):
    now = timezone.now() - timedelta(minutes=5)
    return [
        {
            "type": "track",
            "event": "Page Viewed",
            "userId": f"{prefix}{i}@example.jp",
            "anonymousId": None,
            "messageId": f"{prefix}{i}",
            "timestamp": (now + timedelta(seconds=i)).isoformat(),
            "properties": {"url": "https://example.jp/pricing"},
        }
        for i in range(count)
    ]


def _basic(key: str) -> str:
    import base64

    return "Basic " + base64.b64encode(f"{key}:".encode()).decode()


class TestRedisDown:
    def test_ingestion_accepts_and_stores_while_the_broker_is_down(self, realistic_committed_world, own_redis, caplog):
        committed_world = realistic_committed_world
        from leads.models import Activity

        client = Client(headers={"Authorization": f"Api-Key {committed_world.plain_key_a}"})
        # Broker up: the ingest enqueues its follow-up work.
        response = client.post(
            "/api/v1/activities/bulk/", {"items": _activity_items(3, prefix="up")}, content_type="application/json"
        )
        assert response.status_code == 200 and response.json()["accepted"] == 3
        assert own_redis.queued() >= 1, "with the broker up, the follow-up task is queued"

        own_redis.kill()
        started = time.monotonic()
        response = client.post(
            "/api/v1/activities/bulk/", {"items": _activity_items(5, prefix="down")}, content_type="application/json"
        )
        assert time.monotonic() - started < 20, "the request must not hang on the dead broker"
        assert response.status_code == 200 and response.json()["accepted"] == 5
        with tenant_scope(committed_world.a.id):
            stored = set(Activity.objects.filter(external_id__startswith="down-").values_list("external_id", flat=True))
        assert stored == {f"down-{i}" for i in range(5)}
        assert "could not enqueue" in caplog.text

    def test_both_ingest_paths_store_everything_while_cache_and_broker_are_down(
        self, realistic_committed_world, own_redis, settings, caplog
    ):
        """The rate limiter, the cache and the broker all on our Redis; Redis dies. REST bulk ingest and
        the Segment path keep answering 200 and store every item (the limiter falls back to a bucket in
        this process, logged once); when Redis is back the reconciliation scores what arrived."""
        from django.db.models import F

        from leads.models import Activity, Lead
        from scoring import tasks as scoring_tasks
        from tenants import ratelimit

        world = realistic_committed_world
        settings.CACHES = {
            "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": own_redis.url}
        }
        ratelimit.reset_local_state()
        rest = Client(raise_request_exception=False, headers={"Authorization": f"Api-Key {world.plain_key_a}"})
        segment = Client(raise_request_exception=False, HTTP_AUTHORIZATION=_basic(world.plain_key_a))
        up = rest.post("/api/v1/activities/bulk/", {"items": _activity_items(2, prefix="before")}, "application/json")
        assert up.status_code == 200, "with Redis up the throttle counts in Redis"

        own_redis.kill()
        statuses, accepted = [], 0
        try:
            for round_ in range(6):
                response = rest.post(
                    "/api/v1/activities/bulk/",
                    {"items": _activity_items(5, prefix=f"rest{round_}")},
                    content_type="application/json",
                )
                statuses.append(response.status_code)
                accepted += response.json().get("accepted", 0) if response.status_code == 200 else 0
                response = segment.post(
                    "/v1/batch",
                    {"batch": _segment_messages(5, prefix=f"seg{round_}-")},
                    content_type="application/json",
                )
                statuses.append(response.status_code)
                accepted += response.json().get("accepted", 0) if response.status_code == 200 else 0
        finally:
            own_redis.start()
        assert statuses == [200] * 12, statuses
        assert accepted == 60
        with tenant_scope(world.a.id):
            stored = set(
                Activity.objects.filter(external_id__regex=r"^(rest|seg)[0-5]-").values_list("external_id", flat=True)
            )
        assert stored == {f"{kind}{r}-{i}" for kind in ("rest", "seg") for r in range(6) for i in range(5)}
        warnings = [r for r in caplog.records if r.name == "ondo.ratelimit" and r.levelname == "WARNING"]
        assert len(warnings) == 1, [r.getMessage() for r in warnings]

        # Redis is back (empty: its queued rescore tasks are gone); the reconciliation catches up.
        with tenant_scope(world.a.id):
            Activity.objects.filter(external_id__regex=r"^(rest|seg)[0-5]-").update(
                received_at=F("received_at") - timedelta(minutes=5)
            )
        scoring_tasks.reconcile_unscored(world.a.id)
        with tenant_scope(world.a.id):
            leads = list(Lead.objects.filter(email__regex=r"^(rest|seg)[0-5]"))
        assert len(leads) == 60
        assert all(lead.scored_at is not None for lead in leads)
        assert rest.get("/api/v1/leads/").status_code == 200, "and the limiter counts in Redis again"

    def test_reconciliation_rescores_what_arrived_during_the_outage(self, realistic_committed_world, own_redis):
        committed_world = realistic_committed_world
        from leads.models import Activity, Lead
        from scoring import tasks as scoring_tasks

        client = Client(headers={"Authorization": f"Api-Key {committed_world.plain_key_a}"})
        own_redis.kill()
        items = _activity_items(4, prefix="outage")
        assert (
            client.post("/api/v1/activities/bulk/", {"items": items}, content_type="application/json").json()[
                "accepted"
            ]
            == 4
        )
        with tenant_scope(committed_world.a.id):
            leads = Lead.objects.filter(email__startswith="outage")
            assert leads.count() == 4
            assert all(lead.scored_at is None for lead in leads), "no worker ran: nothing scored yet"
            received = Activity.objects.filter(external_id__startswith="outage-").latest("received_at").received_at
        # The reconciliation looks at activity received more than a minute ago: age it.
        from django.db.models import F

        with tenant_scope(committed_world.a.id):
            Activity.objects.filter(external_id__startswith="outage-").update(
                received_at=F("received_at") - timedelta(minutes=5)
            )
        own_redis.start()  # Redis is back; the beat runs the reconciliation (here: directly, as its worker would)
        scoring_tasks.reconcile_unscored(committed_world.a.id)  # the per-tenant task the fan-out enqueues
        with tenant_scope(committed_world.a.id):
            rescored = list(Lead.objects.filter(email__startswith="outage"))
        assert len(rescored) == 4
        assert all(lead.scored_at is not None and lead.scored_at >= received for lead in rescored)


class TestTenantTaskWithoutBroker:
    def test_enqueue_on_commit_logs_and_keeps_the_data(self, committed_world, own_redis, caplog):
        from django.db import transaction

        from leads.models import Lead
        from tenants.tasking import enqueue_on_commit, tenant_task

        @tenant_task()
        def noop_task(lead_id):
            return lead_id

        own_redis.kill()
        with tenant_scope(committed_world.a.id), transaction.atomic():
            lead = Lead.objects.create(email="kept@example.jp")
            enqueue_on_commit(noop_task, committed_world.a.id, lead.id)
        with tenant_scope(committed_world.a.id):
            assert Lead.objects.filter(email="kept@example.jp").exists()
        assert "could not enqueue" in caplog.text
