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


SAMPLE_TITLES = ["代表取締役", "営業部長", "担当", "スタッフ", "CTO", "", "Manager", "エンジニア"]
SAMPLE_ACTIVITY_TYPES = [
    "email_open",
    "email_click",
    "download",
    "pricing_view",
    "page_view",
    "form_start",
    "webinar_attend",
]


def leads_with_activity(count: int, *, seed: int, email_prefix: str, max_activities: int = 4, days: float = 60):
    """`count` unscored leads with a random mix of titles, sizes and industries and 0..max_activities
    activities each over the last `days` (active tenant; deterministic for a seed). Returns the leads."""
    import random
    from datetime import timedelta

    rng = random.Random(seed)
    now = timezone.now()
    leads = Lead.objects.bulk_create(
        [
            Lead(
                email=f"{email_prefix}{i}@prospect.example.jp",
                title=rng.choice(SAMPLE_TITLES),
                employee_count=rng.choice([None, 30, 70, 150, 700, 800]),
                industry=rng.choice(["SaaS", "IT", "製造業", "小売", ""]),
            )
            for i in range(count)
        ]
    )
    Activity.objects.bulk_create(
        [
            Activity(
                lead=lead,
                type=rng.choice(SAMPLE_ACTIVITY_TYPES),
                occurred_at=now - timedelta(days=rng.uniform(0.1, days)),
            )
            for lead in leads
            for _ in range(rng.randint(0, max_activities))
        ]
    )
    return leads
