"""Factories of the leads tests (tenant-owned: use inside tenant_scope)."""

import factory
from django.utils import timezone

from leads.models import Activity, Lead
from leads.normalize import normalize_company, normalize_name


class LeadFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Lead

    email = factory.Sequence(lambda n: f"prospect{n}@example.co.jp")
    name = factory.Sequence(lambda n: f"見込 太郎{n}")
    company = factory.Sequence(lambda n: f"株式会社テスト{n}")
    company_normalized = factory.LazyAttribute(lambda o: normalize_company(o.company))
    name_normalized = factory.LazyAttribute(lambda o: normalize_name(o.name))
    channel = "seo"
    first_seen_at = factory.LazyFunction(timezone.now)


class ActivityFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Activity

    lead = factory.SubFactory(LeadFactory)
    type = "page_view"
    occurred_at = factory.LazyFunction(timezone.now)
