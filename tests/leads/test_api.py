"""REST API /api/v1/: leads CRUD, filters, cursor pagination, upsert, bulk ingest, stage, merge."""

import pytest
from django.utils import timezone

from leads.hooks import _hooks
from leads.models import Activity, DuplicateCandidate, Lead, LeadMerge, LeadStageChange
from tenants.context import tenant_scope

from .conftest import key_client, make_key
from .factories import ActivityFactory, LeadFactory

pytestmark = pytest.mark.django_db


def _count(tenant, model=Lead, **filters):
    with tenant_scope(tenant.id):
        return model.objects.filter(**filters).count()


@pytest.fixture
def changed(monkeypatch):
    """Collect leads_changed announcements (they run after commit: see django_capture_on_commit_callbacks)."""
    seen = []
    monkeypatch.setattr("leads.hooks._hooks", [*_hooks, lambda tenant_id, ids, reason: seen.append((ids, reason))])
    return seen


class TestAuthentication:
    def test_no_key_is_refused(self, tenant):
        from rest_framework.test import APIClient

        assert APIClient().get("/api/v1/leads/").status_code in (401, 403)

    def test_bad_key_is_401(self, tenant):
        assert key_client("nope.nope").get("/api/v1/leads/").status_code == 401

    def test_revoked_key_is_401(self, tenant):
        from tenants.models import TenantAPIKey

        plain = make_key(tenant)
        TenantAPIKey.objects.filter(tenant=tenant).update(revoked=True)
        assert key_client(plain).get("/api/v1/leads/").status_code == 401

    def test_session_user_works_for_own_tenant_only(self, tenant, other_tenant, users, client_for):
        client = client_for(users["marketing"])
        assert client.get("/api/v1/leads/", HTTP_X_ONDO_TENANT=tenant.slug).status_code == 200
        assert client.get("/api/v1/leads/", HTTP_X_ONDO_TENANT=other_tenant.slug).status_code == 404

    def test_viewer_reads_but_cannot_write(self, tenant, users, client_for):
        client = client_for(users["viewer"])
        assert client.get("/api/v1/leads/", HTTP_X_ONDO_TENANT=tenant.slug).status_code == 200
        response = client.post(
            "/api/v1/leads/", {"email": "x@example.jp"}, content_type="application/json", HTTP_X_ONDO_TENANT=tenant.slug
        )
        assert response.status_code == 403
        assert _count(tenant) == 0

    def test_sales_edits_a_lead_but_cannot_delete_it(self, tenant, users, client_for):
        with tenant_scope(tenant.id):
            lead = LeadFactory()
        client = client_for(users["sales"])
        url = f"/api/v1/leads/{lead.pk}/"
        assert (
            client.patch(
                url, {"title": "部長"}, content_type="application/json", HTTP_X_ONDO_TENANT=tenant.slug
            ).status_code
            == 200
        )
        assert client.delete(url, HTTP_X_ONDO_TENANT=tenant.slug).status_code == 403


class TestTenantIsolation:
    """A key of tenant A can never read or write tenant B."""

    @pytest.fixture
    def theirs(self, other_tenant):
        with tenant_scope(other_tenant.id):
            lead = LeadFactory(email="secret@rival.example.jp", name="秘密 花子")
            ActivityFactory(lead=lead, external_id="rival-1")
        return lead

    def test_list_shows_only_own_leads(self, api, tenant, theirs):
        with tenant_scope(tenant.id):
            LeadFactory(email="mine@acme.example.jp")
        emails = [row["email"] for row in api.get("/api/v1/leads/").json()["results"]]
        assert emails == ["mine@acme.example.jp"]
        assert api.get("/api/v1/leads/", {"q": "秘密"}).json()["results"] == []
        assert api.get("/api/v1/activities/").json()["results"] == []

    @pytest.mark.parametrize("method", ["get", "patch", "put", "delete"])
    def test_their_lead_is_404(self, api, theirs, other_tenant, method):
        response = getattr(api, method)(
            f"/api/v1/leads/{theirs.pk}/", {"email": "x@acme.jp", "name": "x"}, format="json"
        )
        assert response.status_code == 404
        with tenant_scope(other_tenant.id):
            theirs.refresh_from_db()
        assert theirs.name == "秘密 花子"

    def test_their_lead_actions_are_404(self, api, tenant, theirs, other_tenant):
        with tenant_scope(tenant.id):
            mine = LeadFactory()
        assert api.post(f"/api/v1/leads/{theirs.pk}/stage/", {"stage": "sql"}, format="json").status_code == 404
        assert api.get(f"/api/v1/leads/{theirs.pk}/stage-history/").status_code == 404
        assert api.post(f"/api/v1/leads/{mine.pk}/merge/", {"other_id": theirs.pk}, format="json").status_code == 404
        assert api.post(f"/api/v1/leads/{theirs.pk}/merge/", {"other_id": mine.pk}, format="json").status_code == 404
        listing = api.get(f"/api/v1/activities/?lead={theirs.pk}")
        assert listing.status_code == 400 or listing.json()["results"] == []
        with tenant_scope(other_tenant.id):
            assert Lead.objects.get(pk=theirs.pk).stage == "lead"

    def test_ingest_cannot_write_to_their_lead(self, api, theirs, other_tenant):
        body = {"items": [{"lead_id": theirs.pk, "type": "page_view", "occurred_at": timezone.now().isoformat()}]}
        result = api.post("/api/v1/activities/bulk/", body, format="json").json()
        assert result["results"][0]["status"] == "rejected"
        assert _count(other_tenant, Activity) == 1

    def test_same_external_id_in_another_tenant_is_not_a_duplicate(self, api, tenant, theirs):
        body = {
            "items": [
                {
                    "email": "a@acme.example.jp",
                    "type": "page_view",
                    "external_id": "rival-1",
                    "occurred_at": timezone.now().isoformat(),
                }
            ]
        }
        assert api.post("/api/v1/activities/bulk/", body, format="json").json()["accepted"] == 1

    def test_upsert_by_their_email_creates_our_own_lead(self, api, tenant, theirs, other_tenant):
        response = api.post(
            "/api/v1/leads/upsert/", {"email": "secret@rival.example.jp", "name": "当社 太郎"}, format="json"
        )
        assert response.status_code == 201
        with tenant_scope(other_tenant.id):
            assert Lead.objects.get(pk=theirs.pk).name == "秘密 花子"
        assert _count(tenant) == 1

    def test_their_key_cannot_see_our_data(self, api, other_api, tenant):
        api.post("/api/v1/leads/", {"email": "ours@acme.example.jp"}, format="json")
        assert other_api.get("/api/v1/leads/").json()["results"] == []


class TestLeadCrud:
    def test_create_normalises_email_and_company(self, api, tenant, changed, django_capture_on_commit_callbacks):
        with django_capture_on_commit_callbacks(execute=True):
            response = api.post(
                "/api/v1/leads/",
                {
                    "email": " Taro.Yamada@Example.CO.JP ",
                    "name": "山田 太郎",
                    "company": "㈱サンプル",
                    "employee_count": 250,
                    "channel": "webinar",
                    "stage": "mql",
                },
                format="json",
            )
        assert response.status_code == 201, response.json()
        data = response.json()
        assert data["email"] == "taro.yamada@example.co.jp"
        assert data["company_normalized"] == "サンプル"
        assert data["size_band"] == "100-299"
        assert data["stage"] == "mql"
        assert _count(tenant, LeadStageChange, to_stage="mql") == 1
        assert ([data["id"]], "lead_created") in changed

    def test_duplicate_email_is_a_clear_400(self, api, tenant):
        api.post("/api/v1/leads/", {"email": "a@example.jp"}, format="json")
        response = api.post("/api/v1/leads/", {"email": "A@EXAMPLE.JP"}, format="json")
        assert response.status_code == 400
        assert "email" in response.json()
        assert _count(tenant) == 1

    def test_bad_input_is_400_in_japanese_and_stores_nothing(self, api, tenant):
        response = api.post(
            "/api/v1/leads/",
            {"email": "not-an-email", "channel": "fax", "employee_count": 5},
            format="json",
            HTTP_ACCEPT_LANGUAGE="ja",
        )
        assert response.status_code == 400
        errors = response.json()
        assert set(errors) >= {"email", "channel"}
        assert "メールアドレス" in errors["email"][0]
        assert _count(tenant) == 0

    def test_bad_input_is_400_in_english(self, api, tenant):
        response = api.post("/api/v1/leads/", {"email": "not-an-email"}, format="json", HTTP_ACCEPT_LANGUAGE="en")
        assert response.status_code == 400
        assert "not a valid email address" in response.json()["email"][0]

    def test_unknown_custom_field_is_rejected(self, api, tenant):
        response = api.post("/api/v1/leads/", {"email": "a@example.jp", "custom_fields": {"nope": 1}}, format="json")
        assert response.status_code == 400
        assert _count(tenant) == 0

    def test_custom_fields_are_validated_by_their_definition(self, api, tenant):
        from leads import services

        with tenant_scope(tenant.id):
            services.custom_field_create(label="商談規模", field_type="number")
            services.custom_field_create(label="導入製品", field_type="choice", choices=["A", "B"])
        ok = api.post(
            "/api/v1/leads/",
            {"email": "a@example.jp", "custom_fields": {"field": "1,000", "field_2": "B"}},
            format="json",
        )
        assert ok.status_code == 201, ok.json()
        assert ok.json()["custom_fields"] == {"field": 1000, "field_2": "B"}
        bad = api.post("/api/v1/leads/", {"email": "b@example.jp", "custom_fields": {"field_2": "Z"}}, format="json")
        assert bad.status_code == 400

    def test_patch_changes_some_attributes_and_stage_with_history(self, api, tenant, users):
        lead = api.post("/api/v1/leads/", {"email": "a@example.jp", "name": "A"}, format="json").json()
        response = api.patch(
            f"/api/v1/leads/{lead['id']}/",
            {"title": "部長", "stage": "sql", "owner": users["sales"].email},
            format="json",
        )
        assert response.status_code == 200, response.json()
        assert response.json()["title"] == "部長"
        assert response.json()["name"] == "A"
        assert response.json()["owner"] == users["sales"].email
        assert _count(tenant, LeadStageChange, from_stage="lead", to_stage="sql") == 1

    def test_owner_must_be_a_member(self, api, tenant, other_tenant):
        from tests.factories import member

        outsider = member(other_tenant, "sales", email="outsider@rival.example")
        response = api.post("/api/v1/leads/", {"email": "a@example.jp", "owner": outsider.email}, format="json")
        assert response.status_code == 400
        assert "owner" in response.json()

    def test_delete(self, api, tenant):
        lead = api.post("/api/v1/leads/", {"email": "a@example.jp"}, format="json").json()
        assert api.delete(f"/api/v1/leads/{lead['id']}/").status_code == 204
        assert _count(tenant) == 0


class TestListFiltersAndPagination:
    @pytest.fixture
    def leads(self, tenant):
        with tenant_scope(tenant.id):
            return [
                LeadFactory(
                    email="yamada@a.example.jp",
                    name="山田 太郎",
                    company="株式会社東京電機",
                    stage="mql",
                    score_total=80,
                    segment="hot",
                ),
                LeadFactory(
                    email="suzuki@b.example.jp",
                    name="鈴木 花子",
                    company="大阪商事株式会社",
                    stage="lead",
                    score_total=30,
                    segment="cold",
                    channel="webinar",
                ),
                LeadFactory(
                    email="tanaka@c.example.jp",
                    name="田中 一郎",
                    company="東京物産",
                    stage="sql",
                    score_total=55,
                    segment="warm",
                ),
            ]

    def test_japanese_search(self, api, leads):
        names = {row["name"] for row in api.get("/api/v1/leads/", {"q": "東京"}).json()["results"]}
        assert names == {"山田 太郎", "田中 一郎"}
        assert [r["name"] for r in api.get("/api/v1/leads/", {"q": "花子"}).json()["results"]] == ["鈴木 花子"]

    def test_filters(self, api, leads):
        def emails(**params):
            return {row["email"] for row in api.get("/api/v1/leads/", params).json()["results"]}

        assert emails(stage="mql") == {"yamada@a.example.jp"}
        assert emails(segment="hot") == {"yamada@a.example.jp"}
        assert emails(score_min=50) == {"yamada@a.example.jp", "tanaka@c.example.jp"}
        assert emails(score_min=50, score_max=60) == {"tanaka@c.example.jp"}
        assert emails(channel="webinar") == {"suzuki@b.example.jp"}
        assert emails(last_activity="never") == {"yamada@a.example.jp", "suzuki@b.example.jp", "tanaka@c.example.jp"}

    def test_last_activity_times_compare_as_instants_whatever_the_offset(self, api, tenant, leads):
        import datetime as dt

        with tenant_scope(tenant.id):
            Lead.objects.filter(pk=leads[0].pk).update(last_activity_at=dt.datetime(2026, 11, 2, 3, 30, tzinfo=dt.UTC))
            Lead.objects.filter(pk=leads[1].pk).update(last_activity_at=dt.datetime(2026, 11, 2, 4, 30, tzinfo=dt.UTC))

        def emails(**params):
            response = api.get("/api/v1/leads/", params)
            assert response.status_code == 200, response.content
            return {row["email"] for row in response.json()["results"]}

        # 20:04 at +16:04 (an offset PostgreSQL itself refuses) is 04:00 UTC.
        assert emails(last_activity_after="2026-11-02T20:04:00+16:04") == {"suzuki@b.example.jp"}
        assert emails(last_activity_before="2026-11-02T13:00:00+09:00") == {"yamada@a.example.jp"}

    def test_bad_filter_value_is_400(self, api, leads):
        assert api.get("/api/v1/leads/", {"stage": "nonsense"}).status_code == 400

    def test_cursor_pagination(self, api, leads):
        first = api.get("/api/v1/leads/", {"page_size": 2}).json()
        assert len(first["results"]) == 2 and first["next"]
        second = api.get(first["next"]).json()
        assert len(second["results"]) == 1 and second["next"] is None
        seen = [r["id"] for r in first["results"] + second["results"]]
        assert seen == sorted(seen, reverse=True) and len(set(seen)) == 3


class TestUpsert:
    def test_upsert_creates_then_updates(self, api, tenant):
        created = api.post("/api/v1/leads/upsert/", {"email": "a@example.jp", "name": "A"}, format="json")
        assert created.status_code == 201
        updated = api.post("/api/v1/leads/upsert/", {"email": "A@example.jp", "title": "課長"}, format="json")
        assert updated.status_code == 200
        assert updated.json()["id"] == created.json()["id"]
        assert updated.json()["name"] == "A" and updated.json()["title"] == "課長"

    def test_bulk_upsert_reports_per_item(self, api, tenant):
        items = [{"email": "a@example.jp", "name": "A"}, {"email": "bad"}, {"email": "b@example.jp"}]
        result = api.post("/api/v1/leads/bulk/", {"items": items}, format="json").json()
        assert [r["status"] for r in result["results"]] == ["created", "rejected", "created"]
        assert "email" in result["results"][1]["errors"]
        again = api.post("/api/v1/leads/bulk/", {"items": items}, format="json").json()
        assert [r["status"] for r in again["results"]] == ["unchanged", "rejected", "unchanged"]
        assert _count(tenant) == 2

    def test_bulk_upsert_limit(self, api, tenant):
        items = [{"email": f"u{i}@example.jp"} for i in range(1001)]
        assert api.post("/api/v1/leads/bulk/", {"items": items}, format="json").status_code == 400
        assert _count(tenant) == 0


class TestActivityIngest:
    def _item(self, **overrides):
        return {
            "email": "a@example.jp",
            "type": "page_view",
            "occurred_at": "2026-10-01T10:00:00+09:00",
            "url": "https://example.jp/product",
            **overrides,
        }

    def test_same_external_id_twice_is_one_activity(self, api, tenant):
        body = {"items": [self._item(external_id="msg-1")]}
        first = api.post("/api/v1/activities/bulk/", body, format="json").json()
        second = api.post("/api/v1/activities/bulk/", body, format="json").json()
        assert first["results"][0]["status"] == "accepted"
        assert second["results"][0]["status"] == "duplicate"
        assert _count(tenant, Activity) == 1

    def test_duplicate_inside_one_request(self, api, tenant):
        body = {"items": [self._item(external_id="m"), self._item(external_id="m")]}
        result = api.post("/api/v1/activities/bulk/", body, format="json").json()
        assert [r["status"] for r in result["results"]] == ["accepted", "duplicate"]
        assert _count(tenant, Activity) == 1

    def test_bad_items_never_drop_good_ones(self, api, tenant):
        body = {
            "items": [
                self._item(external_id="ok-1"),
                self._item(type="teleport"),
                self._item(occurred_at="yesterday"),
                self._item(occurred_at="2026-10-01T10:60:00Z"),  # parses as ISO, impossible minute
                self._item(email="nope"),
                {"type": "page_view", "occurred_at": "2026-10-01T10:00:00Z"},
                "not an object",
                self._item(external_id="ok-2", type="download"),
            ]
        }
        result = api.post("/api/v1/activities/bulk/", body, format="json", HTTP_ACCEPT_LANGUAGE="en").json()
        statuses = [r["status"] for r in result["results"]]
        assert statuses == ["accepted", *["rejected"] * 6, "accepted"]
        assert result["accepted"] == 2 and result["rejected"] == 6
        assert "ISO 8601" in result["results"][3]["errors"]["occurred_at"][0]
        assert "Unknown activity type" in result["results"][1]["errors"]["type"][0]
        assert _count(tenant, Activity) == 2

    def test_future_time_is_rejected(self, api, tenant):
        future = (timezone.now() + timezone.timedelta(days=3)).isoformat()
        result = api.post("/api/v1/activities/bulk/", {"items": [self._item(occurred_at=future)]}, format="json")
        assert result.json()["results"][0]["status"] == "rejected"

    def test_unknown_email_creates_the_lead_and_moves_its_times(
        self, api, tenant, changed, django_capture_on_commit_callbacks
    ):
        body = {
            "items": [
                self._item(occurred_at="2026-10-01T10:00:00+09:00"),
                self._item(occurred_at="2026-10-03T10:00:00+09:00", type="pricing_view"),
            ]
        }
        with django_capture_on_commit_callbacks(execute=True):
            result = api.post("/api/v1/activities/bulk/", body, format="json").json()
        assert result["accepted"] == 2
        with tenant_scope(tenant.id):
            lead = Lead.objects.get(email="a@example.jp")
            assert lead.last_activity_at.isoformat() == "2026-10-03T01:00:00+00:00"
            assert lead.first_seen_at.isoformat() == "2026-10-01T01:00:00+00:00"
        assert (sorted({lead.pk}), "api_ingest") in changed

    def test_more_than_1000_items_is_400_and_stores_nothing(self, api, tenant):
        body = {"items": [self._item(external_id=str(i)) for i in range(1001)]}
        response = api.post("/api/v1/activities/bulk/", body, format="json")
        assert response.status_code == 400
        assert _count(tenant, Activity) == 0

    def test_not_a_list_is_400(self, api):
        assert api.post("/api/v1/activities/bulk/", {"items": "x"}, format="json").status_code == 400
        assert api.post("/api/v1/activities/bulk/", [1, 2], format="json").status_code == 400

    def test_tenant_defined_type_is_accepted(self, api, tenant):
        from leads import services

        with tenant_scope(tenant.id):
            services.activity_type_create(label="Trial started", key="trial_start")
        result = api.post("/api/v1/activities/bulk/", {"items": [self._item(type="trial_start")]}, format="json")
        assert result.json()["accepted"] == 1

    def test_ingest_does_not_wait_for_scoring(self, api, tenant, monkeypatch):
        """The re-score is announced after commit; a failing hook never loses the stored activities."""

        def broken(tenant_id, ids, reason):
            raise RuntimeError("scoring is down")

        monkeypatch.setattr("leads.hooks._hooks", [broken])
        result = api.post("/api/v1/activities/bulk/", {"items": [self._item()]}, format="json")
        assert result.status_code == 200
        assert _count(tenant, Activity) == 1

    def test_list_activities_of_a_lead(self, api, tenant):
        api.post("/api/v1/activities/bulk/", {"items": [self._item(), self._item(type="download")]}, format="json")
        with tenant_scope(tenant.id):
            lead = Lead.objects.get(email="a@example.jp")
        rows = api.get("/api/v1/activities/", {"lead": lead.pk}).json()["results"]
        assert {r["type"] for r in rows} == {"page_view", "download"}


class TestStageAndMerge:
    def test_stage_change_endpoint_keeps_history(self, api, tenant):
        lead = api.post("/api/v1/leads/", {"email": "a@example.jp"}, format="json").json()
        response = api.post(
            f"/api/v1/leads/{lead['id']}/stage/", {"stage": "mql", "reason": "スコア到達"}, format="json"
        )
        assert response.status_code == 200
        assert response.json()["stage"] == "mql" and response.json()["stage_changed_at"]
        history = api.get(f"/api/v1/leads/{lead['id']}/stage-history/").json()
        assert [(h["from_stage"], h["to_stage"], h["reason"]) for h in history] == [("lead", "mql", "スコア到達")]

    def test_bad_stage_is_400(self, api, tenant):
        lead = api.post("/api/v1/leads/", {"email": "a@example.jp"}, format="json").json()
        assert api.post(f"/api/v1/leads/{lead['id']}/stage/", {"stage": "won"}, format="json").status_code == 400
        assert _count(tenant, LeadStageChange) == 0

    def test_merge_moves_everything_and_is_recorded(self, api, tenant, users):
        from leads.models import LeadFeedback

        with tenant_scope(tenant.id):
            survivor = LeadFactory(email="taro@example.jp", name="山田 太郎", company="株式会社サンプル", title="")
            other = LeadFactory(
                email="t.yamada@example.jp",
                name="山田太郎",
                company="サンプル（株）",
                title="部長",
                phone="03-1234-5678",
            )
            ActivityFactory.create_batch(3, lead=other)
            ActivityFactory(lead=survivor)
            LeadStageChange.objects.create(lead=other, from_stage="lead", to_stage="mql", changed_at=timezone.now())
            LeadFeedback.objects.create(lead=other, outcome="accepted", occurred_at=timezone.now())
        response = api.post(f"/api/v1/leads/{survivor.pk}/merge/", {"other_id": other.pk}, format="json")
        assert response.status_code == 200, response.json()
        assert response.json()["merged_email"] == "t.yamada@example.jp"
        with tenant_scope(tenant.id):
            survivor.refresh_from_db()
            assert not Lead.objects.filter(pk=other.pk).exists()
            assert Activity.objects.filter(lead=survivor).count() == 4
            assert LeadStageChange.objects.filter(lead=survivor).count() == 1
            assert LeadFeedback.objects.filter(lead=survivor).count() == 1
            assert survivor.title == "部長" and survivor.phone == "03-1234-5678"  # gaps filled
            assert survivor.name == "山田 太郎"  # the survivor's own values win
            merge = LeadMerge.objects.get(survivor=survivor)
            assert merge.merged_snapshot["email"] == "t.yamada@example.jp"
        # The merged email now leads to the survivor.
        again = api.post(
            "/api/v1/activities/bulk/",
            {
                "items": [
                    {"email": "t.yamada@example.jp", "type": "page_view", "occurred_at": timezone.now().isoformat()}
                ]
            },
            format="json",
        ).json()
        assert again["results"][0]["lead_id"] == survivor.pk

    def test_merge_into_itself_is_400(self, api, tenant):
        lead = api.post("/api/v1/leads/", {"email": "a@example.jp"}, format="json").json()
        assert (
            api.post(f"/api/v1/leads/{lead['id']}/merge/", {"other_id": lead["id"]}, format="json").status_code == 400
        )


class TestDuplicates:
    def test_same_company_and_name_is_flagged_never_merged(self, api, tenant):
        api.post(
            "/api/v1/leads/",
            {"email": "a@example.jp", "name": "山田 太郎", "company": "株式会社サンプル"},
            format="json",
        )
        api.post("/api/v1/leads/", {"email": "b@example.jp", "name": "山田太郎", "company": "ｻﾝﾌﾟﾙ(株)"}, format="json")
        api.post(
            "/api/v1/leads/",
            {"email": "c@example.jp", "name": "山田 次郎", "company": "株式会社サンプル"},
            format="json",
        )
        assert _count(tenant) == 3
        with tenant_scope(tenant.id):
            pairs = list(DuplicateCandidate.objects.values_list("lead_a__email", "lead_b__email"))
        assert pairs == [("a@example.jp", "b@example.jp")]


def test_openapi_schema_of_the_leads_api_is_valid_without_warnings():
    from django.core.management import call_command

    call_command(
        "spectacular", "--validate", "--fail-on-warn", "--urlconf", "tests.leads.schema_urls", "--file", "/dev/null"
    )
