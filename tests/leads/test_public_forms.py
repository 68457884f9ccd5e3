"""The public inquiry-form endpoint /f/<tenant-slug>/<form-key>/: token, honeypot, rate limit, upsert."""

import json

import pytest
from django.test import override_settings

from leads import services
from leads.models import Activity, FormEndpoint, Lead
from tenants.context import tenant_scope

from .factories import LeadFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def form(tenant):
    with tenant_scope(tenant.id):
        return services.form_endpoint_create(name="お問い合わせ", channel="seo", campaign="Web問い合わせ")


def submit(client, tenant, form, headers=None, **fields):
    data = {
        "ondo_token": form.token,
        "email": "Taro@Example.jp",
        "name": "山田 太郎",
        "company": "株式会社サンプル",
        "message": "MAツールの見直しを検討中",
        "website": "",
        **fields,
    }
    return client.post(f"/f/{tenant.slug}/{form.key}/", data, REMOTE_ADDR="203.0.113.7", **(headers or {}))


def _leads(tenant):
    with tenant_scope(tenant.id):
        return list(Lead.objects.all())


def test_submission_creates_the_lead_and_a_form_submit_activity(client, tenant, form):
    response = submit(client, tenant, form, headers={"HTTP_ACCEPT": "application/json"})
    assert response.status_code == 200 and response.json()["ok"] is True
    assert response["Access-Control-Allow-Origin"] == "*"
    with tenant_scope(tenant.id):
        lead = Lead.objects.get(email="taro@example.jp")
        assert (lead.name, lead.channel, lead.campaign, lead.need) == (
            "山田 太郎",
            "seo",
            "Web問い合わせ",
            "MAツールの見直しを検討中",
        )
        activity = Activity.objects.get(lead=lead)
        assert activity.type == "form_submit" and activity.properties["form"] == form.key


def test_redirects_to_the_thank_you_page(client, tenant, form):
    with tenant_scope(tenant.id):
        FormEndpoint.objects.filter(pk=form.pk).update(redirect_url="https://www.example.jp/thanks")
        form.refresh_from_db()
    response = submit(client, tenant, form)
    assert response.status_code == 303 and response["Location"] == "https://www.example.jp/thanks"


def test_wrong_or_missing_token_is_403_and_stores_nothing(client, tenant, form):
    assert submit(client, tenant, form, ondo_token="forged").status_code == 403
    data = {"email": "a@example.jp"}
    assert client.post(f"/f/{tenant.slug}/{form.key}/", data).status_code == 403
    assert _leads(tenant) == []


def test_rotated_token_invalidates_the_old_one(client, tenant, form):
    old = form.token
    with tenant_scope(tenant.id):
        services.form_endpoint_rotate_token(form=form)
    assert submit(client, tenant, form, ondo_token=old).status_code == 403
    assert submit(client, tenant, form).status_code == 200


def test_honeypot_looks_like_success_but_stores_nothing(client, tenant, form):
    response = submit(client, tenant, form, website="http://spam.example")
    assert response.status_code == 200
    assert _leads(tenant) == []


@override_settings(ONDO_FORM_RATE_PER_MINUTE=2)
def test_rate_limit_per_address(client, tenant, form):
    assert submit(client, tenant, form, email="a@example.jp").status_code == 200
    assert submit(client, tenant, form, email="b@example.jp").status_code == 200
    limited = submit(client, tenant, form, email="c@example.jp")
    assert limited.status_code == 429 and int(limited["Retry-After"]) >= 1
    assert {lead.email for lead in _leads(tenant)} == {"a@example.jp", "b@example.jp"}
    other_address = client.post(
        f"/f/{tenant.slug}/{form.key}/", {"ondo_token": form.token, "email": "d@example.jp"}, REMOTE_ADDR="198.51.100.1"
    )
    assert other_address.status_code == 200


@pytest.mark.parametrize(
    ("language", "text"), [("ja", "正しいメールアドレスではありません"), ("en", "is not a valid email address")]
)
def test_bad_email_is_400_in_the_visitors_language(client, tenant, form, language, text):
    response = submit(client, tenant, form, email="not-an-email", headers={"HTTP_ACCEPT_LANGUAGE": language})
    assert response.status_code == 400
    assert text in response.json()["errors"]["email"][0]
    assert _leads(tenant) == []


def test_existing_lead_is_completed_never_overwritten(client, tenant, form):
    with tenant_scope(tenant.id):
        LeadFactory(email="taro@example.jp", name="山田 太郎（営業確認済）", company="", phone="")
    submit(client, tenant, form, name="偽名", company="株式会社サンプル", phone="03-1111-2222")
    with tenant_scope(tenant.id):
        lead = Lead.objects.get(email="taro@example.jp")
        assert (lead.name, lead.company, lead.phone) == ("山田 太郎（営業確認済）", "株式会社サンプル", "03-1111-2222")
        assert Activity.objects.filter(lead=lead, type="form_submit").count() == 1


def test_json_body_is_accepted(client, tenant, form):
    response = client.post(
        f"/f/{tenant.slug}/{form.key}/",
        {"ondo_token": form.token, "email": "j@example.jp"},
        content_type="application/json",
    )
    assert response.status_code == 200


def test_unknown_inactive_or_foreign_forms_are_404(client, tenant, other_tenant, form):
    assert submit(client, tenant, form).status_code == 200
    with tenant_scope(other_tenant.id):
        theirs = services.form_endpoint_create(name="Rival form")
    # Tenant B's form key (and token) under tenant A's slug.
    response = client.post(f"/f/{tenant.slug}/{theirs.key}/", {"ondo_token": theirs.token, "email": "x@example.jp"})
    assert response.status_code == 404 or theirs.key == form.key
    assert client.post(f"/f/no-such-tenant/{form.key}/", {"ondo_token": form.token}).status_code == 404
    with tenant_scope(tenant.id):
        services.form_endpoint_set_active(form=form, is_active=False)
    assert submit(client, tenant, form, email="late@example.jp").status_code == 404
    with tenant_scope(other_tenant.id):
        assert not Lead.objects.exists()


def test_get_is_405_and_preflight_is_allowed(client, tenant, form):
    assert client.get(f"/f/{tenant.slug}/{form.key}/").status_code == 405
    preflight = client.options(f"/f/{tenant.slug}/{form.key}/")
    assert preflight.status_code == 200 and "POST" in preflight["Access-Control-Allow-Methods"]


# --- values that cannot be stored ----------------------------------------------------------------

BAD_FIELDS = {
    "NUL in a mapped field": ({"name": "山田\x00太郎"}, "name", "NUL"),
    "NUL in the email": ({"email": "taro\x00@example.jp"}, "email", "NUL"),
    "NUL in an extra field": ({"favourite": "a\x00b"}, "favourite", "NUL"),
    "NUL in an extra field's name": ({"fav\x00": "x"}, "fav\x00", "NUL"),
}


@pytest.mark.parametrize("encoding", ["form", "json"])
@pytest.mark.parametrize("case", BAD_FIELDS, ids=list(BAD_FIELDS))
def test_an_unstorable_value_is_a_400_naming_the_field_and_stores_nothing(client, tenant, form, case, encoding):
    fields, name, reason = BAD_FIELDS[case]
    data = {"ondo_token": form.token, "email": "taro@example.jp", "name": "山田 太郎", **fields}
    url = f"/f/{tenant.slug}/{form.key}/"
    if encoding == "json":
        response = client.post(url, data, content_type="application/json", HTTP_ACCEPT_LANGUAGE="en")
    else:
        response = client.post(url, data, HTTP_ACCEPT_LANGUAGE="en", HTTP_ACCEPT="application/json")
    assert response.status_code == 400
    assert reason in " ".join(response.json()["errors"][name])
    assert _leads(tenant) == []


def test_a_lone_surrogate_in_json_is_a_400_naming_the_field(client, tenant, form):
    body = json.dumps({"ondo_token": form.token, "email": "taro@example.jp", "name": "\ud800"})  # ascii: \\ud800
    response = client.post(
        f"/f/{tenant.slug}/{form.key}/", body, content_type="application/json", HTTP_ACCEPT_LANGUAGE="en"
    )
    assert response.status_code == 400 and "surrogate" in response.json()["errors"]["name"][0]
    assert _leads(tenant) == []


def test_a_nul_in_the_referer_does_not_break_the_submission(client, tenant, form):
    response = submit(client, tenant, form, headers={"HTTP_REFERER": "https://example.jp/\x00"})
    assert response.status_code == 200
    with tenant_scope(tenant.id):
        assert Activity.objects.get(type="form_submit").url == ""


@pytest.mark.parametrize(
    "body", [b"[" * 5000 + b"]" * 5000, b"{'not': 'json'}", b'{"email": "a@b.jp", "name": NaN'], ids=str
)
def test_a_body_that_is_not_json_is_a_400_with_a_message(client, tenant, form, body):
    response = client.post(f"/f/{tenant.slug}/{form.key}/", body, content_type="application/json")
    assert response.status_code == 400 and response.json()["errors"]["__all__"]
    assert _leads(tenant) == []
