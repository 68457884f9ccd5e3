"""A `next` taken from a request never leads off the site (issue #19, Low 2): the KPI review status
action, the language switch and a notification's link all go through tenants.params.safe_next_url."""

import datetime as dt

import pytest

from kpis import services
from kpis.models import ReviewLogEntry, ReviewStatus
from kpis.periods import Period
from tenants.context import tenant_scope

pytestmark = pytest.mark.django_db

OFF_SITE = [
    "//evil.example",
    "//evil.example/t/acme/kpis/dashboard/review/",
    "https://evil.example",
    "http://evil.example/",
    "/\\evil.example",
    "\\\\evil.example",
    "javascript:alert(1)",
    " //evil.example",
    "///evil.example",
]


@pytest.fixture
def entry(tenant, users):
    with tenant_scope(tenant.id):
        return services.review_entry_create(
            period=Period("month", dt.date(2026, 6, 1)), action="資料請求の導線を見直す", actor=users["admin"]
        )


@pytest.mark.parametrize("target", OFF_SITE)
def test_the_review_status_action_never_redirects_off_site(tenant, users, client_for, entry, target):
    client = client_for(users["admin"])
    response = client.post(
        f"/t/{tenant.slug}/kpis/review-log/{entry.pk}/status/", {"status": ReviewStatus.DONE, "next": target}
    )
    assert response.status_code in (302, 303)
    assert response["Location"] == f"/t/{tenant.slug}/kpis/dashboard/review/"
    with tenant_scope(tenant.id):
        assert ReviewLogEntry.objects.get(pk=entry.pk).status == ReviewStatus.DONE


def test_the_review_status_action_follows_a_path_on_the_site(tenant, users, client_for, entry):
    client = client_for(users["admin"])
    back = f"/t/{tenant.slug}/kpis/dashboard/review/?period=month"
    response = client.post(
        f"/t/{tenant.slug}/kpis/review-log/{entry.pk}/status/", {"status": ReviewStatus.DONE, "next": back}
    )
    assert response["Location"] == back


@pytest.mark.parametrize("target", OFF_SITE)
def test_the_language_switch_never_redirects_off_site(users, client_for, target):
    response = client_for(users["admin"]).post("/language/", {"language": "en", "next": target})
    assert response.status_code == 302
    assert response["Location"] == "/"
