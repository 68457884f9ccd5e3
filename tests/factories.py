"""Factories for the test suite. Tenant-owned factories need an active tenant
(`with tenant_scope(tenant.id):`) exactly like application code."""

import factory
from django.utils import timezone

from leads.models import Activity, Lead
from tenants.models import Membership, Role, Tenant, User

PASSWORD = "correct-horse-battery-9"


class TenantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Tenant

    name = factory.Sequence(lambda n: f"テスト株式会社{n}")
    slug = factory.Sequence(lambda n: f"tenant-{n}")


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.test")
    name = factory.Sequence(lambda n: f"利用者 {n}")
    language = "ja"
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):  # noqa: N805
        if create:
            obj.save()


def member(tenant: Tenant, role: str = Role.MARKETING, **user_fields) -> User:
    user = UserFactory(**user_fields)
    Membership.objects.create(user=user, tenant=tenant, role=role)
    return user


class LeadFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Lead

    email = factory.Sequence(lambda n: f"lead{n}@prospect.example.jp")
    name = factory.Sequence(lambda n: f"見込 太郎{n}")
    company = "株式会社サンプル"
    channel = "seo"


class ActivityFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Activity

    lead = factory.SubFactory(LeadFactory)
    type = "page_view"
    occurred_at = factory.LazyFunction(timezone.now)
