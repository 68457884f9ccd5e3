"""Segment/RudderStack-compatible ingestion: wire facts, mappings, identity merge, and the real client
libraries (segment-analytics-python 2.4, rudder-sdk-python 2.1) against a live server of the app."""

import base64
import gzip
import json
import threading
import time
import uuid

import pytest
from django.db import transaction
from django.test import Client, override_settings

from leads import segment_compat, services
from leads.models import Activity, Lead, LeadIdentity
from tenants.context import tenant_scope
from tenants.models import Role, TenantAPIKey
from tests.conftest import login_client
from tests.factories import member

from .conftest import make_key


def _auth(key: str) -> str:
    return "Basic " + base64.b64encode(f"{key}:".encode()).decode()


def _message(kind="track", **fields):
    base = {
        "type": kind,
        "messageId": str(uuid.uuid4()),
        "timestamp": "2026-11-01T10:00:00.000+09:00",
        "userId": None,
        "anonymousId": None,
        "context": {"library": {"name": "test"}},
    }
    base.update(fields)
    return base


def post(client: Client, key: str | None, body, *, path="/v1/batch", gzipped=False, raw: bytes | None = None):
    data = raw if raw is not None else json.dumps(body).encode()
    headers = {}
    if key is not None:
        headers["HTTP_AUTHORIZATION"] = _auth(key)
    if gzipped:
        data = gzip.compress(data)
        headers["HTTP_CONTENT_ENCODING"] = "gzip"
    return client.post(path, data=data, content_type="application/json", **headers)


def _activities(tenant, **filters):
    with tenant_scope(tenant.id):
        return list(Activity.objects.filter(**filters).order_by("id"))


@pytest.mark.django_db
class TestWire:
    def test_success_is_exactly_200(self, client, tenant, api_key):
        response = post(client, api_key, {"batch": [_message(userId="a@example.jp", event="Signed Up")]})
        assert response.status_code == 200
        assert response.json()["success"] is True

    def test_bad_write_key_is_401(self, client, tenant):
        response = post(client, "wrong.key", {"batch": [_message(userId="a@example.jp", event="x")]})
        assert response.status_code == 401
        assert response.json()["code"] == "unauthorized"
        assert _activities(tenant) == []

    def test_missing_auth_is_401(self, client, tenant):
        assert post(client, None, {"batch": []}).status_code == 401

    def test_revoked_key_is_401(self, client, tenant, api_key):
        TenantAPIKey.objects.filter(tenant=tenant).update(revoked=True)
        assert post(client, api_key, {"batch": []}).status_code == 401

    def test_write_key_in_body_is_accepted(self, client, tenant, api_key):
        body = {"batch": [_message(userId="a@example.jp", event="Signed Up")], "writeKey": api_key}
        assert post(client, None, body).status_code == 200
        assert len(_activities(tenant)) == 1

    def test_bad_json_is_400(self, client, tenant, api_key):
        assert post(client, api_key, None, raw=b"{not json").status_code == 400
        assert post(client, api_key, None, raw=b"[1,2]").status_code == 400
        assert post(client, api_key, {"batch": "nope"}).status_code == 400

    def test_gzip_body(self, client, tenant, api_key):
        response = post(client, api_key, {"batch": [_message(userId="a@example.jp", event="Signed Up")]}, gzipped=True)
        assert response.status_code == 200
        assert len(_activities(tenant)) == 1

    def test_bad_gzip_is_400(self, client, tenant, api_key):
        response = client.post(
            "/v1/batch",
            data=b"not gzip",
            content_type="application/json",
            HTTP_AUTHORIZATION=_auth(api_key),
            HTTP_CONTENT_ENCODING="gzip",
        )
        assert response.status_code == 400

    def test_over_500_kb_is_413(self, client, tenant, api_key):
        big = {"batch": [_message(userId="a@example.jp", event="x", properties={"pad": "x" * 600_000})]}
        assert post(client, api_key, big).status_code == 413
        # …also when it only exceeds the limit once decompressed (a gzip bomb).
        assert post(client, api_key, big, gzipped=True).status_code == 413
        assert _activities(tenant) == []

    def test_over_100_messages_is_413(self, client, tenant, api_key):
        body = {"batch": [_message(userId="a@example.jp", event="x") for _ in range(101)]}
        assert post(client, api_key, body).status_code == 413
        assert _activities(tenant) == []

    @override_settings(ONDO_SEGMENT_RATE_PER_MINUTE=2)
    def test_rate_limit_is_429_with_retry_after(self, client, tenant, api_key):
        body = {"batch": [_message(userId="a@example.jp", event="x")]}
        assert post(client, api_key, body).status_code == 200
        assert post(client, api_key, body).status_code == 200
        limited = post(client, api_key, body)
        assert limited.status_code == 429
        assert 1 <= int(limited["Retry-After"]) <= 60

    def test_single_message_endpoints(self, client, tenant, api_key):
        for path, body in [
            ("/v1/track", {"userId": "a@example.jp", "event": "Demo Requested", "messageId": "t1"}),
            (
                "/v1/page",
                {
                    "userId": "a@example.jp",
                    "name": "料金",
                    "properties": {"url": "https://x.jp/pricing"},
                    "messageId": "p1",
                },
            ),
            ("/v1/identify", {"userId": "a@example.jp", "traits": {"name": "山田 太郎"}, "messageId": "i1"}),
        ]:
            assert post(client, api_key, body, path=path).status_code == 200
        types = [a.type for a in _activities(tenant)]
        assert types == ["demo_request", "pricing_view"]
        with tenant_scope(tenant.id):
            assert Lead.objects.get(email="a@example.jp").name == "山田 太郎"

    def test_same_message_id_twice_is_one_activity(self, client, tenant, api_key):
        body = {"batch": [_message(userId="a@example.jp", event="Email Opened", messageId="m-1")]}
        assert post(client, api_key, body).status_code == 200
        assert post(client, api_key, body).json()["duplicate"] == 1
        assert len(_activities(tenant, external_id="m-1")) == 1

    def test_a_bad_message_does_not_drop_the_batch(self, client, tenant, api_key):
        body = {
            "batch": [
                _message(userId="a@example.jp", event="Email Opened"),
                {"type": "teleport"},
                _message(event="x"),  # neither userId nor anonymousId
                "garbage",
                _message(userId="a@example.jp", event="Webinar Attended"),
            ]
        }
        response = post(client, api_key, body)
        assert response.status_code == 200
        assert response.json()["skipped"] == 3
        assert [a.type for a in _activities(tenant)] == ["email_open", "webinar_attend"]

    def test_write_key_of_tenant_b_writes_only_tenant_b(self, client, tenant, other_tenant):
        key_b = make_key(other_tenant)
        post(client, key_b, {"batch": [_message(userId="a@example.jp", event="Email Opened")]})
        assert _activities(tenant) == []
        assert len(_activities(other_tenant)) == 1


def _raw(body) -> bytes:
    """JSON exactly as written: NaN, Infinity and lone surrogates (as \\ud800 escapes) included."""
    return json.dumps(body, allow_nan=True).encode()


BAD_MESSAGES = {
    "year 1": (_message(userId="b@example.jp", event="x", timestamp="0001-01-01T00:30:00+01:00"), "timestamp"),
    "before 2000": (_message(userId="b@example.jp", event="x", timestamp="1999-12-31T23:59:59Z"), "timestamp"),
    "far ahead": (_message(userId="b@example.jp", event="x", timestamp="9999-12-31T23:30:00-01:00"), "timestamp"),
    "NUL in a property": (_message(userId="b@example.jp", event="x", properties={"q": "a\x00"}), "message"),
    "NUL in the event": (_message(userId="b@example.jp", event="Signed\x00Up"), "message"),
    "NUL in the user id": (_message(userId="u\x00", event="x"), "message"),
    "lone surrogate": (_message(userId="b@example.jp", event="x", properties={"q": "\ud800"}), "message"),
    "NaN": (_message(userId="b@example.jp", event="x", properties={"v": float("nan")}), "message"),
    "Infinity": (_message(userId="b@example.jp", event="x", properties={"v": float("-inf")}), "message"),
    "deep nesting": (
        _message(userId="b@example.jp", event="x", properties={"v": json.loads("[" * 1200 + "]" * 1200)}),
        "message",
    ),
    "NUL in an identify trait": (
        _message("identify", userId="b@example.jp", traits={"email": "b@example.jp", "name": "x\x00"}),
        "message",
    ),
}


@pytest.mark.django_db
class TestMalformedMessages:
    """One malformed message is rejected alone with its reason; the batch answers 200 (a client
    would otherwise resend the same failing batch forever) and the tenant stays readable."""

    @pytest.mark.parametrize("gzipped", [False, True], ids=["segment", "rudderstack-gzip"])
    @pytest.mark.parametrize("case", BAD_MESSAGES, ids=list(BAD_MESSAGES))
    def test_a_bad_message_is_rejected_alone_with_its_reason(self, client, tenant, api_key, case, gzipped):
        bad, field = BAD_MESSAGES[case]
        good = [_message(userId="a@example.jp", event="Email Opened", messageId=f"ok-{i}") for i in range(4)]
        batch = [*good[:2], bad, *good[2:]]
        response = post(client, api_key, None, raw=_raw({"batch": batch}), gzipped=gzipped)
        assert response.status_code == 200, response.content[:300]
        summary = response.json()
        assert (summary["accepted"], summary["skipped"]) == (4, 1)
        [error] = summary["errors"]
        assert error["index"] == 2 and error["messageId"] == bad["messageId"] and error["errors"][field]
        assert sorted(a.external_id for a in _activities(tenant)) == [f"ok-{i}" for i in range(4)]
        page = login_client(member(tenant, Role.ADMIN, email="admin@acme.example")).get(f"/t/{tenant.slug}/leads/")
        assert page.status_code == 200

    def test_the_reason_is_translated(self, client, tenant, api_key):
        bad = _message(userId="b@example.jp", event="x", timestamp="1999-12-31T23:59:59Z")
        response = post(client, api_key, {"batch": [bad]})
        assert "2000年" in response.json()["errors"][0]["errors"]["timestamp"][0]

    def test_an_offset_beyond_15_59_is_stored_as_the_same_moment(self, client, tenant, api_key):
        message = _message(userId="a@example.jp", event="x", timestamp="2026-11-01T10:00:00+20:00")
        assert post(client, api_key, {"batch": [message]}).json()["accepted"] == 1
        [activity] = _activities(tenant)
        assert activity.occurred_at.isoformat() == "2026-10-31T14:00:00+00:00"

    @pytest.mark.parametrize("path", ["/v1/track", "/v1/page", "/v1/identify"])
    def test_a_bad_single_call_is_200_with_its_reason(self, client, tenant, api_key, path):
        body = {"userId": "a@example.jp", "event": "x", "name": "p", "properties": {"q": "\x00"}, "traits": {}}
        response = post(client, api_key, None, path=path, raw=_raw(body))
        assert response.status_code == 200
        assert response.json()["skipped"] == 1 and response.json()["errors"][0]["errors"]["message"]
        assert _activities(tenant) == []

    @pytest.mark.parametrize("path", ["/v1/batch", "/v1/track"])
    def test_a_body_nested_too_deep_to_parse_is_a_400_with_code_and_message(self, client, tenant, api_key, path):
        raw = b'{"batch": ' + b"[" * 5000 + b"]" * 5000 + b"}"
        response = post(client, api_key, None, path=path, raw=raw)
        assert response.status_code == 400
        assert response.json()["code"] == "invalid_request" and response.json()["message"]


@pytest.mark.django_db
class TestMapping:
    def test_identify_traits_map_to_lead_fields(self, client, tenant, api_key):
        traits = {
            "email": "Taro@Example.JP",
            "firstName": "太郎",
            "lastName": "山田",
            "title": "情報システム部長",
            "company": {"name": "株式会社サンプル", "employee_count": 350, "industry": "製造業"},
            "phone": "03-1234-5678",
            "unknownTrait": "ignored",
        }
        post(client, api_key, {"batch": [_message("identify", userId="u-1", traits=traits)]})
        with tenant_scope(tenant.id):
            lead = Lead.objects.get(email="taro@example.jp")
            assert (lead.name, lead.title, lead.company, lead.employee_count, lead.size_band, lead.industry) == (
                "山田 太郎",
                "情報システム部長",
                "株式会社サンプル",
                350,
                "300-999",
                "製造業",
            )
            assert LeadIdentity.objects.filter(kind="user_id", value="u-1", lead=lead).exists()

    def test_rudderstack_puts_traits_in_context(self, client, tenant, api_key):
        message = _message("identify", userId="u-2", context={"traits": {"email": "hanako@example.jp", "name": "花子"}})
        post(client, api_key, {"batch": [message]})
        with tenant_scope(tenant.id):
            assert Lead.objects.get(email="hanako@example.jp").name == "花子"

    def test_a_bad_trait_drops_only_itself(self, client, tenant, api_key):
        traits = {"email": "a@example.jp", "name": "A", "employees": "many", "channel": "carrier pigeon"}
        post(client, api_key, {"batch": [_message("identify", userId="a@example.jp", traits=traits)]})
        with tenant_scope(tenant.id):
            lead = Lead.objects.get(email="a@example.jp")
            assert lead.name == "A" and lead.employee_count is None and lead.channel == ""

    def test_tenant_mappings_override_the_defaults(self, client, tenant, api_key):
        with tenant_scope(tenant.id):
            services.mapping_set(kind="event", source="Whitepaper Requested", target="download")
            services.mapping_set(kind="trait", source="role", target="title")
            services.mapping_set(kind="event", source="Email Opened", target="")  # switch a default off
        post(
            client,
            api_key,
            {
                "batch": [
                    _message("identify", userId="a@example.jp", traits={"email": "a@example.jp", "role": "CTO"}),
                    _message(userId="a@example.jp", event="Whitepaper Requested"),
                    _message(userId="a@example.jp", event="Email Opened"),
                ]
            },
        )
        assert [a.type for a in _activities(tenant)] == ["download", "email_opened"]
        with tenant_scope(tenant.id):
            assert Lead.objects.get(email="a@example.jp").title == "CTO"

    def test_page_urls_map_to_pricing_view(self, client, tenant, api_key):
        post(
            client,
            api_key,
            {
                "batch": [
                    _message(
                        "page", userId="a@example.jp", name="Pricing", properties={"url": "https://x.jp/pricing/"}
                    ),
                    _message("page", userId="a@example.jp", context={"page": {"url": "https://x.jp/blog/1"}}),
                ]
            },
        )
        activities = _activities(tenant)
        assert [(a.type, a.url) for a in activities] == [
            ("pricing_view", "https://x.jp/pricing/"),
            ("page_view", "https://x.jp/blog/1"),
        ]
        assert activities[0].properties["name"] == "Pricing"

    def test_anonymous_activity_is_kept_then_merged_on_identify(
        self, client, tenant, api_key, monkeypatch, django_capture_on_commit_callbacks
    ):
        announced = []
        monkeypatch.setattr("leads.hooks._hooks", [lambda t, ids, reason: announced.append(reason)])
        post(
            client,
            api_key,
            {
                "batch": [
                    _message("page", anonymousId="anon-1", properties={"url": "https://x.jp/pricing"}),
                    _message(anonymousId="anon-1", event="Form Started"),
                ]
            },
        )
        kept = _activities(tenant)
        assert len(kept) == 2 and all(a.lead_id is None and a.anonymous_id == "anon-1" for a in kept)
        with django_capture_on_commit_callbacks(execute=True):
            post(
                client,
                api_key,
                {
                    "batch": [
                        _message("identify", userId="u-9", anonymousId="anon-1", traits={"email": "new@example.jp"})
                    ]
                },
            )
        with tenant_scope(tenant.id):
            lead = Lead.objects.get(email="new@example.jp")
            assert Activity.objects.filter(lead=lead).count() == 2
            assert lead.last_activity_at is not None
        # Later anonymous events of the same browser go straight to the lead.
        post(client, api_key, {"batch": [_message(anonymousId="anon-1", event="Demo Requested")]})
        assert _activities(tenant, type="demo_request")[0].lead_id == lead.pk
        assert "identities_linked" in announced

    def test_user_id_without_email_links_on_later_identify(self, client, tenant, api_key):
        post(client, api_key, {"batch": [_message(userId="crm-42", event="Email Opened")]})
        post(client, api_key, {"batch": [_message("identify", userId="crm-42", traits={"email": "k@example.jp"})]})
        post(client, api_key, {"batch": [_message(userId="crm-42", event="Email Link Clicked")]})
        with tenant_scope(tenant.id):
            lead = Lead.objects.get(email="k@example.jp")
            assert sorted(Activity.objects.filter(lead=lead).values_list("type", flat=True)) == [
                "email_click",
                "email_open",
            ]


# --- the real client libraries against a live server ----------------------------------------------


def _wait_for(predicate, timeout=15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return predicate()


@pytest.fixture
def live_key(transactional_db, tenant):
    return make_key(tenant)


@pytest.mark.django_db(transaction=True)
class TestRealClients:
    def test_segment_client_delivers_events(self, live_server, tenant, live_key):
        from segment.analytics import Client as SegmentClient

        errors = []
        client = SegmentClient(
            live_key,
            host=live_server.url,
            on_error=lambda e, batch: errors.append(e),
            upload_interval=0.1,
            max_retries=2,
        )
        client.identify("seg-user-1", {"email": "Seg@Example.JP", "name": "セグメント 太郎", "company": "株式会社セグ"})
        client.track("seg-user-1", "Webinar Registered", {"webinar": "11月セミナー"})
        client.page("seg-user-1", name="Pricing", properties={"url": "https://example.jp/pricing"})
        client.track(anonymous_id="seg-anon", event="Form Started")
        client.flush()
        client.shutdown()
        assert errors == []
        with tenant_scope(tenant.id):
            lead = Lead.objects.get(email="seg@example.jp")
            types = set(Activity.objects.filter(lead=lead).values_list("type", flat=True))
            assert types == {"webinar_register", "pricing_view"}
            assert lead.name == "セグメント 太郎" and lead.company_normalized == "セグ"
            assert Activity.objects.filter(anonymous_id="seg-anon", lead__isnull=True).count() == 1

    def test_segment_client_with_gzip(self, live_server, tenant, live_key):
        from segment.analytics import Client as SegmentClient

        client = SegmentClient(live_key, host=live_server.url, gzip=True, upload_interval=0.1, max_retries=1)
        for n in range(30):
            client.track("gz@example.jp", "Email Opened", {"n": n})
        client.flush()
        client.shutdown()
        assert len(_activities(tenant, type="email_open")) == 30

    def test_rudderstack_client_delivers_events(self, live_server, tenant, live_key):
        from rudderstack.analytics.client import Client as RudderClient

        errors = []
        client = RudderClient(
            live_key,
            host=live_server.url,
            on_error=lambda e, batch: errors.append(e),
            upload_interval=0.1,
            max_retries=2,
        )  # gzip on by default
        client.identify("rs-user-1", {"email": "rudder@example.jp", "title": "マーケティング部長"})
        client.track("rs-user-1", "Demo Requested", {"plan": "enterprise"})
        client.page("rs-user-1", name="Docs", properties={"url": "https://example.jp/docs"})
        client.flush()
        client.join()
        assert errors == []
        with tenant_scope(tenant.id):
            lead = Lead.objects.get(email="rudder@example.jp")
            assert lead.title == "マーケティング部長"
            assert sorted(Activity.objects.filter(lead=lead).values_list("type", flat=True)) == [
                "demo_request",
                "page_view",
            ]

    def test_bad_write_key_is_reported_by_the_client(self, live_server, tenant, live_key):
        from segment.analytics import Client as SegmentClient

        errors = []
        client = SegmentClient(
            "bad.key",
            host=live_server.url,
            on_error=lambda e, batch: errors.append(e),
            upload_interval=0.1,
            max_retries=1,
        )
        client.track("a@example.jp", "Email Opened")
        client.flush()
        client.shutdown()
        assert [getattr(e, "status", None) for e in errors] == [401]
        assert _activities(tenant) == []

    @pytest.mark.parametrize("library", ["segment", "rudderstack"])
    def test_retried_batch_is_not_duplicated(self, live_server, tenant, live_key, monkeypatch, library):
        """The first delivery is stored but its answer never arrives (the client times out and sends
        the same batch again, same messageIds): the activities exist once."""
        deliveries = []
        lock = threading.Lock()
        original = segment_compat.process_messages

        def answer_late_once(messages):
            summary = original(messages)
            with lock:
                deliveries.append(summary)
                first = len(deliveries) == 1
            if first:
                transaction.on_commit(lambda: time.sleep(2.5))  # committed, then the response is lost
            return summary

        monkeypatch.setattr(segment_compat, "process_messages", answer_late_once)
        if library == "segment":
            from segment.analytics import Client

            client = Client(live_key, host=live_server.url, timeout=1, max_retries=3, upload_interval=0.2)
        else:
            from rudderstack.analytics.client import Client

            client = Client(live_key, host=live_server.url, timeout=1, max_retries=3, upload_interval=0.2)
        for n in range(5):
            client.track("retry@example.jp", "Email Opened", {"n": n})
        client.flush()
        client.join()
        assert _wait_for(lambda: len(deliveries) >= 2)
        assert deliveries[0]["accepted"] == 5
        assert deliveries[1]["duplicate"] == 5 and deliveries[1]["accepted"] == 0
        assert len(_activities(tenant, type="email_open")) == 5
