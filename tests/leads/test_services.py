"""Services of the leads app: stage changes with history, bulk writes, merge, duplicates, identities,
channel list and the hand-over to the layers above."""

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from leads import ingest, selectors, services
from leads.hooks import _hooks
from leads.models import (
    Activity,
    DuplicateCandidate,
    IdentityKind,
    Lead,
    LeadIdentity,
    LeadMerge,
    LeadStageChange,
)
from tenants.models import AuditEvent

from .factories import ActivityFactory, LeadFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def announced(monkeypatch, django_capture_on_commit_callbacks):
    seen = []
    monkeypatch.setattr("leads.hooks._hooks", [*_hooks, lambda tenant_id, ids, reason: seen.append((ids, reason))])
    return seen


class TestStage:
    def test_change_is_recorded_with_time_actor_reason_and_definition_version(self, scoped, users):
        lead = LeadFactory()
        change = services.lead_change_stage(
            lead=lead, stage="mql", actor=users["marketing"], reason="スコア80", mql_definition_version=3
        )
        lead.refresh_from_db()
        assert (lead.stage, lead.stage_changed_at) == ("mql", change.changed_at)
        assert (
            change.from_stage,
            change.to_stage,
            change.changed_by,
            change.reason,
            change.mql_definition_version,
        ) == ("lead", "mql", users["marketing"], "スコア80", 3)

    def test_same_stage_records_nothing(self, scoped):
        lead = LeadFactory(stage="sql")
        assert services.lead_change_stage(lead=lead, stage="sql") is None
        assert LeadStageChange.objects.count() == 0

    def test_invalid_stage_is_refused(self, scoped):
        with pytest.raises(ValidationError):
            services.lead_change_stage(lead=LeadFactory(), stage="won")

    def test_api_key_actor_is_not_a_user(self, scoped):
        from tenants.authentication import APIKeyPrincipal
        from tenants.models import TenantAPIKey

        key, _plain = TenantAPIKey.objects.create_key(name="crm", tenant=scoped)
        change = services.lead_change_stage(lead=LeadFactory(), stage="sql", actor=APIKeyPrincipal(key))
        assert change.changed_by is None

    def test_announced_after_commit(self, scoped, announced, django_capture_on_commit_callbacks):
        lead = LeadFactory()
        with django_capture_on_commit_callbacks(execute=True):
            services.lead_change_stage(lead=lead, stage="mql")
        assert announced == [([lead.pk], "stage_changed")]

    def test_bulk_stage_and_owner(self, scoped, users):
        leads = LeadFactory.create_batch(3)
        LeadFactory(stage="sql")
        assert services.leads_bulk_change_stage(lead_ids=[lead.pk for lead in leads], stage="sql") == 3
        assert LeadStageChange.objects.filter(to_stage="sql").count() == 3
        assert services.leads_bulk_assign_owner(lead_ids=[leads[0].pk], owner_id=users["sales"].pk) == 1
        assert services.leads_bulk_assign_owner(lead_ids=[leads[0].pk], owner_id=None) == 1
        assert AuditEvent.objects.filter(action__startswith="leads.bulk").count() == 3


class TestMerge:
    def test_everything_moves_and_the_merge_is_recorded(self, scoped, users):
        survivor = LeadFactory(email="main@example.jp", first_seen_at=timezone.now())
        other = LeadFactory(
            email="old@example.jp", industry="製造業", first_seen_at=timezone.now() - timezone.timedelta(days=30)
        )
        ActivityFactory.create_batch(2, lead=other)
        LeadIdentity.objects.create(lead=other, kind=IdentityKind.ANONYMOUS_ID, value="anon-7")
        merge = services.lead_merge(survivor=survivor, other=other, actor=users["marketing"])
        survivor.refresh_from_db()
        assert Activity.objects.filter(lead=survivor).count() == 2
        assert LeadIdentity.objects.get(value="anon-7").lead == survivor
        assert LeadIdentity.objects.get(kind=IdentityKind.EMAIL).value == "old@example.jp"
        assert survivor.industry == "製造業" and survivor.first_seen_at == other.first_seen_at
        assert merge.moved == {"leads.Activity": 2, "leads.LeadIdentity": 1}
        assert AuditEvent.objects.get(action="lead.merged").data["merged_email"] == "old@example.jp"
        assert selectors.lead_by_email("OLD@example.jp") == survivor

    def test_a_chain_of_merges_keeps_every_record(self, scoped):
        a, b, c = LeadFactory.create_batch(3)
        services.lead_merge(survivor=b, other=c)
        services.lead_merge(survivor=a, other=b)
        assert LeadMerge.objects.filter(survivor=a).count() == 2
        assert set(LeadIdentity.objects.values_list("lead_id", flat=True)) == {a.pk}


class TestDuplicates:
    def test_pairs_are_ordered_unique_and_never_self(self, scoped):
        a = LeadFactory(name="山田 太郎", company="株式会社サンプル")
        b = LeadFactory(name="ヤマダ タロウ", company="株式会社サンプル")
        c = LeadFactory(name="山田太郎", company="(株)サンプル")
        services.duplicates_flag([a.pk, b.pk, c.pk])
        services.duplicates_flag(None)
        assert list(DuplicateCandidate.objects.values_list("lead_a", "lead_b")) == [(a.pk, c.pk)]

    def test_blank_company_or_name_never_matches(self, scoped):
        LeadFactory(name="", company="株式会社サンプル")
        LeadFactory(name="", company="株式会社サンプル")
        assert services.duplicates_flag(None) == 0


class TestIdentities:
    def test_link_attaches_earlier_anonymous_activity(self, scoped):
        lead = LeadFactory(last_activity_at=None)
        Activity.objects.create(lead=None, anonymous_id="anon-1", type="page_view", occurred_at=timezone.now())
        assert ingest.link_identities(lead_id=lead.pk, anonymous_id="anon-1") == 1
        lead.refresh_from_db()
        assert lead.last_activity_at is not None
        assert ingest.link_identities(lead_id=lead.pk, anonymous_id="anon-1") == 0  # idempotent

    def test_refresh_activity_times_is_set_based_and_idempotent(self, scoped):
        lead = LeadFactory(first_seen_at=None, last_activity_at=None)
        newest = timezone.now() - timezone.timedelta(hours=1)
        ActivityFactory(lead=lead, occurred_at=newest - timezone.timedelta(days=5))
        ActivityFactory(lead=lead, occurred_at=newest)
        ingest.refresh_activity_times([lead.pk])
        ingest.refresh_activity_times([lead.pk])
        lead.refresh_from_db()
        assert lead.last_activity_at == newest
        assert lead.first_seen_at == newest - timezone.timedelta(days=5)


class TestUpsertLeads:
    def test_last_row_of_an_email_wins_and_custom_fields_merge(self, scoped):
        from django.db import transaction

        services.custom_field_create(label="A", field_type="text", key="a")
        services.custom_field_create(label="B", field_type="text", key="b")
        with transaction.atomic():
            result = ingest.upsert_leads(
                [
                    {"email": "x@example.jp", "name": "一", "custom_fields": {"a": "1"}},
                    {"email": "x@example.jp", "title": "部長", "custom_fields": {"b": "2"}},
                ]
            )
        lead = Lead.objects.get()
        assert (lead.name, lead.title, lead.custom_fields) == ("一", "部長", {"a": "1", "b": "2"})
        assert result.created == [lead.pk]


class TestChannels:
    def test_defaults_until_edited_then_the_tenants_own_list(self, scoped):
        assert [c.key for c in selectors.channels()][:3] == ["seo", "listing_ads", "webinar"]
        services.channel_add(label="パートナー経由")
        services.channel_update(key="sns", is_active=False)
        channels = selectors.channels()
        assert "sns" not in [c.key for c in channels] and channels[-1].label == "パートナー経由"
        assert "sns" in selectors.channel_labels()  # still shown on existing leads

    def test_duplicate_label_is_refused(self, scoped):
        services.channel_add(label="紹介2")
        with pytest.raises(ValidationError):
            services.channel_add(label="紹介2")

    def test_japanese_and_english_labels_are_accepted_as_input(self, scoped):
        from leads.validation import LeadFieldContext, clean_lead_fields

        context = LeadFieldContext.load()
        for raw in ("ウェビナー", "Webinar", "webinar", "ＷＥＢＩＮＡＲ"):
            assert clean_lead_fields({"channel": raw}, context=context, partial=True) == {"channel": "webinar"}
