"""Data-quality figures (module functions the page and the diagnostics share)."""

import datetime as dt

import pytest
from django.utils import timezone

from leads import quality
from leads.models import Lead

from .factories import ActivityFactory, LeadFactory

pytestmark = pytest.mark.django_db


def test_missing_attributes(scoped):
    LeadFactory(
        industry="製造業",
        title="部長",
        employee_count=100,
        authority="decision_maker",
        need="x",
        budget="secured",
        timing="within_3m",
    )
    LeadFactory(industry="", title="", size_band="100-299")
    LeadFactory(industry="", title="課長")
    LeadFactory(industry="IT", title="")
    result = quality.attribute_completeness()
    assert result["total"] == 4
    assert result["missing_pct"]["industry"] == 50.0
    assert result["missing_pct"]["title"] == 50.0
    assert result["missing_pct"]["company_size"] == 50.0
    assert result["missing_pct"]["budget"] == 75.0


def test_no_leads_means_no_division_by_zero(scoped):
    assert quality.attribute_completeness()["missing_pct"]["industry"] == 0.0
    assert quality.stale_leads()["stale_pct"] == 0.0


def test_duplicates(scoped):
    LeadFactory(name="山田 太郎", company="株式会社サンプル")
    LeadFactory(name="山田太郎", company="ｻﾝﾌﾟﾙ(株)")
    LeadFactory(name="山田 太郎", company="別会社")
    result = quality.duplicate_summary()
    assert (result["groups"], result["duplicate_leads"], result["total"]) == (1, 2, 3)


def test_stale_leads(scoped):
    now = timezone.now()
    LeadFactory(last_activity_at=now - dt.timedelta(days=10))
    LeadFactory(last_activity_at=now - dt.timedelta(days=120))
    LeadFactory(last_activity_at=None)
    result = quality.stale_leads(days=90, now=now)
    assert (result["stale"], result["never"], result["total"]) == (2, 1, 3)


def test_invalid_and_free_mail_addresses(scoped):
    LeadFactory(email="ok@example.co.jp")
    LeadFactory(email="someone@gmail.com")
    Lead.objects.create(email="broken@", name="壊れた")
    Lead.objects.create(email="no-at-sign.example.jp")
    result = quality.invalid_emails()
    assert result["invalid"] == 2 and result["free_mail"] == 1
    assert {row["email"] for row in result["sample"]} == {"broken@", "no-at-sign.example.jp"}


def test_activity_volume_per_type_per_week(scoped):
    now = timezone.make_aware(dt.datetime(2026, 11, 18, 12, 0))  # a Wednesday
    lead = LeadFactory()
    ActivityFactory(lead=lead, type="page_view", occurred_at=now - dt.timedelta(days=1))
    ActivityFactory(lead=lead, type="page_view", occurred_at=now - dt.timedelta(days=2))
    ActivityFactory(lead=lead, type="download", occurred_at=now - dt.timedelta(days=8))
    ActivityFactory(lead=lead, type="download", occurred_at=now - dt.timedelta(days=200))  # outside the window
    result = quality.activity_volume(weeks=4, now=now)
    assert result["weeks"][-1] == dt.date(2026, 11, 16)
    assert result["counts"]["page_view"] == [0, 0, 0, 2]
    assert result["counts"]["download"] == [0, 0, 1, 0]
    assert result["totals"] == [0, 0, 1, 2]


def test_report_bundles_everything(scoped):
    report = quality.quality_report()
    assert set(report) == {"completeness", "duplicates", "stale", "emails", "activity"}
