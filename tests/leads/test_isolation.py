"""Tenant isolation of every lead page, fragment, export and endpoint, generated from the URL conf:
a member of tenant A never reads or writes tenant B's leads, imports or duplicate pairs."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import URLPattern

from leads import services, urls
from leads.models import Activity, DuplicateCandidate, ImportJob, Lead
from tenants.context import tenant_scope

from .conftest import key_client
from .factories import ActivityFactory, LeadFactory

pytestmark = pytest.mark.django_db

ROUTES = [pattern for pattern in urls.urlpatterns if isinstance(pattern, URLPattern)]


@pytest.fixture
def theirs(other_tenant):
    """Tenant B's data: a lead with activity, a duplicate pair, an import."""
    with tenant_scope(other_tenant.id):
        lead = LeadFactory(email="secret@rival.example.jp", name="秘密 花子", company="株式会社ライバル", title="社長")
        twin = LeadFactory(email="secret2@rival.example.jp", name="秘密花子", company="ライバル(株)")
        ActivityFactory(lead=lead)
        services.duplicates_flag([lead.pk])
        job = ImportJob.objects.create(
            file_name="rival.csv",
            raw=b"email\nx@rival.jp\n",
            encoding="utf-8",
            header=["email"],
            mapping=["email"],
            row_count=1,
        )
        pair = DuplicateCandidate.objects.get()
    return {"lead": lead, "twin": twin, "job": job, "pair": pair}


def _kwargs_for(pattern, theirs):
    params = set(pattern.pattern.converters)
    kwargs = {}
    if "pk" in params:
        name = pattern.name or ""
        if name.startswith("import"):
            kwargs["pk"] = theirs["job"].pk
        elif name.startswith("duplicate"):
            kwargs["pk"] = theirs["pair"].pk
        else:
            kwargs["pk"] = theirs["lead"].pk
    if "name" in params:
        kwargs["name"] = "title"
    return kwargs


def _snapshot(other_tenant):
    with tenant_scope(other_tenant.id):
        return (
            sorted(Lead.objects.values_list("pk", "email", "name", "title", "stage", "owner_id")),
            Activity.objects.count(),
            sorted(DuplicateCandidate.objects.values_list("pk", "status")),
            sorted(ImportJob.objects.values_list("pk", "status", "mapping")),
        )


@pytest.mark.parametrize("pattern", [p for p in ROUTES if p.pattern.converters], ids=lambda p: p.name)
def test_another_tenants_object_ids_are_404_for_every_method(pattern, tenant, other_tenant, users, client_for, theirs):
    from django.urls import reverse

    before = _snapshot(other_tenant)
    kwargs = _kwargs_for(pattern, theirs)
    path = reverse(f"leads:{pattern.name}", kwargs={"slug": tenant.slug, **kwargs})
    client = client_for(users["admin"])  # every capability in tenant A
    data = {
        "other": theirs["twin"].pk,
        "stage": "customer",
        "attr-title-value": "乗っ取り",
        "encoding": "utf-8",
        "col_0": "email",
        "ids": [theirs["lead"].pk],
        "action": "stage",
    }
    for method in ("get", "post"):
        response = getattr(client, method)(
            path, data if method == "post" else {"other": theirs["twin"].pk, "edit": "1"}
        )
        assert response.status_code in (404, 405), (method, path, response.status_code)
        assert "秘密" not in response.content.decode()
    assert _snapshot(other_tenant) == before


@pytest.mark.parametrize("pattern", ROUTES, ids=lambda p: p.name)
def test_member_of_a_gets_404_under_b_slug_and_anonymous_is_sent_to_login(
    pattern, tenant, other_tenant, users, client_for, client, theirs
):
    from django.urls import reverse

    kwargs = _kwargs_for(pattern, theirs)
    foreign = reverse(f"leads:{pattern.name}", kwargs={"slug": other_tenant.slug, **kwargs})
    assert client_for(users["admin"]).get(foreign).status_code == 404
    assert client_for(users["admin"]).post(foreign).status_code == 404
    anonymous = client.get(foreign)
    assert anonymous.status_code == 302 and "/accounts/login/" in anonymous["Location"]


def test_bulk_actions_ignore_another_tenants_ids(tenant, other_tenant, users, client_for, theirs):
    before = _snapshot(other_tenant)
    client = client_for(users["admin"])
    client.post(f"/t/{tenant.slug}/leads/bulk/", {"ids": [theirs["lead"].pk], "action": "stage", "stage": "sql"})
    client.post(
        f"/t/{tenant.slug}/leads/bulk/",
        {"ids": [theirs["lead"].pk], "action": "owner", "owner": str(users["sales"].pk)},
    )
    assert _snapshot(other_tenant) == before


def test_merge_with_another_tenants_lead_is_404(tenant, other_tenant, users, client_for, theirs):
    with tenant_scope(tenant.id):
        mine = LeadFactory()
    before = _snapshot(other_tenant)
    response = client_for(users["admin"]).post(f"/t/{tenant.slug}/leads/{mine.pk}/merge/", {"other": theirs["lead"].pk})
    assert response.status_code == 404
    assert _snapshot(other_tenant) == before


def test_list_export_quality_and_duplicates_never_show_another_tenant(tenant, users, client_for, theirs):
    client = client_for(users["admin"])
    for path in ("", "?q=秘密", "export/", "export/?q=秘密", "quality/", "duplicates/", "import/", "settings/"):
        response = client.get(f"/t/{tenant.slug}/leads/{path}")
        body = b"".join(response.streaming_content) if response.streaming else response.content
        assert response.status_code == 200, path
        assert "秘密 花子".encode() not in body and b"secret@rival" not in body and b"rival.csv" not in body, path


def test_import_of_tenant_a_never_touches_tenant_b(
    tenant, other_tenant, users, client_for, theirs, django_capture_on_commit_callbacks
):
    before = _snapshot(other_tenant)
    client = client_for(users["admin"])
    data = "email,name,title\nsecret@rival.example.jp,当社の別人,部長\n".encode()
    client.post(f"/t/{tenant.slug}/leads/import/", {"file": SimpleUploadedFile("a.csv", data), "encoding": "auto"})
    with tenant_scope(tenant.id):
        job = ImportJob.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            f"/t/{tenant.slug}/leads/import/{job.pk}/start/",
            {"encoding": "utf-8", "col_0": "email", "col_1": "name", "col_2": "title"},
        )
    assert _snapshot(other_tenant)[0] == before[0]
    with tenant_scope(tenant.id):
        assert Lead.objects.get(email="secret@rival.example.jp").name == "当社の別人"


def test_api_key_of_a_on_every_lead_api_route(tenant, other_tenant, theirs, api_key):
    """Generated from the API router: B's ids are 404 for A's key, whatever the method."""
    from leads.api_urls import router

    api = key_client(api_key)
    before = _snapshot(other_tenant)
    for prefix, _viewset, _basename in router.registry:
        for suffix in ("", "stage/", "merge/", "stage-history/"):
            path = f"/api/v1/{prefix}/{theirs['lead'].pk}/{suffix}"
            for method in ("get", "patch", "put", "post", "delete"):
                response = getattr(api, method)(
                    path,
                    {"stage": "sql", "other_id": theirs["twin"].pk, "name": "x", "email": "x@acme.jp"},
                    format="json",
                )
                assert response.status_code in (404, 405), (method, path, response.status_code)
    assert _snapshot(other_tenant) == before
