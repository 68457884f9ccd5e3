"""Role checks: declared once per view, enforced for every role."""

import pytest

from tenants.roles import CAPABILITIES, capabilities_for


@pytest.mark.django_db
@pytest.mark.parametrize(("role", "status"), [("admin", 200), ("marketing", 403), ("sales", 403), ("viewer", 403)])
def test_only_admins_manage_members(tenant, users, client_for, role, status):
    assert client_for(users[role]).get(f"/t/{tenant.slug}/members/").status_code == status
    assert client_for(users[role]).get(f"/t/{tenant.slug}/api-keys/").status_code == status
    assert client_for(users[role]).get(f"/t/{tenant.slug}/audit/").status_code == status


@pytest.mark.django_db
def test_capabilities_follow_the_role_table(tenant, users):
    sales = capabilities_for(users["sales"], tenant)
    assert sales["give_feedback"] and sales["approve_mql"]
    assert not sales["edit_scoring"] and not sales["admin_tenant"]
    viewer = capabilities_for(users["viewer"], tenant)
    assert viewer["view"] and not any(v for k, v in viewer.items() if k != "view")
    assert all(capabilities_for(users["admin"], tenant)[name] for name in CAPABILITIES)


@pytest.mark.django_db
def test_no_capabilities_in_a_tenant_one_does_not_belong_to(tenant, other_tenant, users):
    assert not any(capabilities_for(users["admin"], other_tenant).values())


@pytest.mark.django_db
def test_admin_changes_a_role_and_it_is_audited(tenant, users, client_for):
    from tenants.context import tenant_scope
    from tenants.models import AuditEvent, Membership

    target = Membership.objects.get(user=users["viewer"], tenant=tenant)
    response = client_for(users["admin"]).post(f"/t/{tenant.slug}/members/{target.id}/", {"role": "sales"})
    assert response.status_code == 302
    target.refresh_from_db()
    assert target.role == "sales"
    with tenant_scope(tenant.id):
        event = AuditEvent.objects.get(action="membership.role_changed")
    assert event.data == {"from": "viewer", "to": "sales"}


@pytest.mark.django_db
def test_last_admin_cannot_be_demoted(tenant, users, client_for):
    from tenants.models import Membership

    admin_membership = Membership.objects.get(user=users["admin"], tenant=tenant)
    client_for(users["admin"]).post(f"/t/{tenant.slug}/members/{admin_membership.id}/", {"role": "viewer"})
    admin_membership.refresh_from_db()
    assert admin_membership.role == "admin"


@pytest.mark.django_db
def test_bad_role_is_rejected_and_changes_nothing(tenant, users, client_for):
    from tenants.models import Membership

    target = Membership.objects.get(user=users["viewer"], tenant=tenant)
    client_for(users["admin"]).post(f"/t/{tenant.slug}/members/{target.id}/", {"role": "god"})
    target.refresh_from_db()
    assert target.role == "viewer"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("role", "method", "status"),
    [("viewer", "get", 200), ("viewer", "post", 403), ("marketing", "get", 200), ("marketing", "post", 200)],
)
def test_a_view_declares_separate_read_and_write_capabilities(tenant, users, rf, role, method, status):
    from django.core.exceptions import PermissionDenied
    from django.http import HttpResponse

    from tenants.decorators import tenant_permission_required

    @tenant_permission_required("view", write="edit_scoring")
    def page(request):
        return HttpResponse("ok")

    request = getattr(rf, method)("/")
    request.user, request.tenant = users[role], tenant
    try:
        answered = page(request).status_code
    except PermissionDenied:
        answered = 403
    assert answered == status
    assert (page.ondo_capability, page.ondo_write_capability) == ("view", "edit_scoring")


@pytest.mark.django_db
def test_require_refuses_a_role_without_the_capability(tenant, users, rf):
    from django.core.exceptions import PermissionDenied

    from tenants.decorators import require

    request = rf.get("/")
    request.user, request.tenant = users["sales"], tenant
    require(request, "give_feedback")
    with pytest.raises(PermissionDenied):
        require(request, "edit_scoring")
