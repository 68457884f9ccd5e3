"""End to end in headless Chromium, as the app's database role: every page visited must load with
no console error, CSP violation, failed request or server error (tests/browser/conftest.py)."""

from __future__ import annotations

import re

import pytest
from django.core import mail

from tenants.models import Membership, Role
from tests.factories import PASSWORD, TenantFactory, member
from tests.reliability.objects import build_realistic_data

from .conftest import shot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def acme(transactional_db):
    """A tenant with every role and the apps' demo data (small)."""
    tenant = TenantFactory(slug="acme", name="株式会社アクメ")
    users = {role: member(tenant, role, email=f"{role}@acme.example", name=f"{role} 太郎") for role in Role.values}
    failures = build_realistic_data(tenant, lead_count=25)
    assert not failures, failures
    return tenant, users


def test_login_lands_on_the_dashboard(new_page, live, acme):
    tenant, users = acme
    page = new_page()
    page.goto(f"{live.url}/accounts/login/")
    shot(page, "login")
    page.locator("input[name=login]").fill(users[Role.MARKETING].email)
    page.locator("input[name=password]").fill(PASSWORD)
    page.locator("form button[type=submit]").first.click()
    page.wait_for_url(f"**/t/{tenant.slug}/**")
    assert page.locator(".app-shell").is_visible()
    shot(page, "dashboard")


def test_wrong_password_shows_an_error_and_stays_logged_out(new_page, live, acme):
    _tenant, users = acme
    page = new_page()
    page.goto(f"{live.url}/accounts/login/")
    page.locator("input[name=login]").fill(users[Role.SALES].email)
    page.locator("input[name=password]").fill("not-the-password")
    page.locator("form button[type=submit]").first.click()
    page.wait_for_load_state()
    assert "/accounts/login/" in page.url
    assert "メールアドレス" in page.content()


def test_switching_tenant(new_page, live, acme):
    tenant, users = acme
    other = TenantFactory(slug="beta", name="ベータ工業")
    user = users[Role.MARKETING]
    Membership.objects.create(user=user, tenant=other, role=Role.VIEWER)
    page = new_page(user=user)
    page.goto(f"{live.url}/t/{tenant.slug}/")
    page.locator("details.tenant-switch summary").click()
    shot(page, "tenant-switch")
    page.locator("details.tenant-switch a.menu-item", has_text="ベータ工業").click()
    page.wait_for_url(f"**/t/{other.slug}/**")
    assert "ベータ工業" in page.locator(".sidebar-tenant-name").inner_text()


def test_language_switch_to_english_and_back(new_page, live, acme):
    tenant, users = acme
    page = new_page(user=users[Role.ADMIN])
    page.goto(f"{live.url}/t/{tenant.slug}/members/")
    assert page.locator("html").get_attribute("lang") == "ja"
    page.locator("header .lang-switch button[value=en]").click()
    page.wait_for_function("document.documentElement.lang === 'en'")
    assert "/members/" in page.url, "the switch returns to the same page"
    assert "Members" in page.content() or "members" in page.content().lower()
    shot(page, "members-english")
    page.locator("header .lang-switch button[value=ja]").click()
    page.wait_for_function("document.documentElement.lang === 'ja'")
    users[Role.ADMIN].refresh_from_db()
    assert users[Role.ADMIN].language == "ja"


def test_admin_invites_a_member(new_page, live, acme):
    tenant, users = acme
    page = new_page(user=users[Role.ADMIN])
    page.goto(f"{live.url}/t/{tenant.slug}/members/")
    shot(page, "members")
    page.locator("#id_email").fill("newcomer@acme.example")
    page.locator("#id_role").select_option("sales")
    page.get_by_role("button", name=re.compile("招待")).first.click()
    page.locator("#invited-link").wait_for()
    link = page.locator("#invited-link").input_value()
    assert "/invite/" in link
    assert any("newcomer@acme.example" in message.to for message in mail.outbox) or mail.outbox == []
    shot(page, "members-invited")
    # The invited person opens the link, sets a password and lands in the tenant.
    invitee = new_page()
    invitee.goto(link)
    invitee.locator("input[name=name]").fill("新人 花子")
    invitee.locator("input[name=password1]").fill("sakura-momiji-42")
    invitee.locator("input[name=password2]").fill("sakura-momiji-42")
    invitee.locator("form button[type=submit]").first.click()
    invitee.wait_for_url(f"**/t/{tenant.slug}/**")
    assert Membership.objects.get(user__email="newcomer@acme.example", tenant=tenant).role == "sales"
