from __future__ import annotations

from allauth.account.views import EmailView as AllauthEmailView
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.http import HttpResponseBadRequest, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from . import accounts, services
from .decorators import render_htmx, tenant_permission_required
from .errors import attach_service_errors
from .forms import AcceptInvitationForm, ApiKeyForm, InvitationForm, LanguageForm, RoleForm, TenantSettingsForm
from .models import AuditEvent, Invitation, Membership, Notification, TenantAPIKey, User
from .params import parse_id, safe_next_url


@login_required
def home(request):
    """Send the user to the tenant they used last, or their first one."""
    memberships = Membership.objects.filter(user=request.user, tenant__is_active=True).select_related("tenant")
    last = request.session.get("last_tenant_slug")
    chosen = (
        next((m for m in memberships if m.tenant.slug == last), None) or memberships.order_by("tenant__name").first()
    )
    if chosen is None:
        return render(request, "tenants/no_tenant.html")
    return redirect("tenant_home", slug=chosen.tenant.slug)


@tenant_permission_required("view")
def tenant_home(request, slug):
    return redirect("kpis:dashboard", slug=slug)


@require_POST
def switch_language(request):
    form = LanguageForm(request.POST)
    response = HttpResponseRedirect(safe_next_url(request, request.POST.get("next"), default="/"))
    if form.is_valid():
        language = form.cleaned_data["language"]
        services.user_set_language(user=request.user, language=language)
        response.set_cookie("django_language", language, max_age=365 * 24 * 3600, samesite="Lax")
    else:
        messages.error(request, _("Choose Japanese or English."))
    return response


@tenant_permission_required("admin_tenant")
def members(request, slug):
    invite_form = InvitationForm(request.POST or None)
    invited_link = None
    if request.method == "POST":
        if invite_form.is_valid():
            try:
                invitation = services.invitation_create(
                    email=invite_form.cleaned_data["email"],
                    role=invite_form.cleaned_data["role"],
                    invited_by=request.user,
                    base_url=request.build_absolute_uri("/"),
                )
            except ValidationError as error:
                attach_service_errors(invite_form, error)
            else:
                invited_link = invitation.plain_link
                messages.success(request, _("Invitation sent to %(email)s.") % {"email": invitation.email})
                invite_form = InvitationForm()
    context = {
        "memberships": Membership.objects.filter(tenant=request.tenant).select_related("user").order_by("user__email"),
        "invitations": Invitation.objects.filter(accepted_at__isnull=True, revoked_at__isnull=True).order_by(
            "-created_at"
        ),
        "invite_form": invite_form,
        "invited_link": invited_link,
        "role_form": RoleForm(),
    }
    return render_htmx(
        request, "tenants/members.html", context, fragment="members-panel", status=400 if invite_form.errors else 200
    )


@require_POST
@tenant_permission_required("admin_tenant")
def member_update(request, slug, membership_id):
    membership = get_object_or_404(Membership, pk=membership_id, tenant=request.tenant)
    action = request.POST.get("action")
    try:
        if action == "remove":
            services.membership_remove(membership=membership, actor=request.user)
            messages.success(request, _("Member removed."))
        else:
            form = RoleForm(request.POST)
            if not form.is_valid():
                raise ValidationError(_("Choose a valid role."))
            services.membership_change_role(membership=membership, role=form.cleaned_data["role"], actor=request.user)
            messages.success(request, _("Role updated."))
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    return redirect("tenants:members", slug=slug)


@require_POST
@tenant_permission_required("admin_tenant")
def invitation_revoke(request, slug, invitation_id):
    invitation = get_object_or_404(Invitation, pk=invitation_id)
    from django.utils import timezone

    invitation.revoked_at = timezone.now()
    invitation.save(update_fields=["revoked_at"])
    services.audit_record(action="invitation.revoked", actor=request.user, target=invitation.email)
    messages.success(request, _("Invitation revoked."))
    return redirect("tenants:members", slug=slug)


def invitation_accept(request, token):
    invitation = services.invitation_find(token)
    if invitation is None:
        return render(request, "tenants/invitation_invalid.html", status=404)
    existing = User.objects.filter(email__iexact=invitation.email).first()
    if existing is not None:
        if not request.user.is_authenticated:
            messages.info(request, _("Log in as %(email)s to accept the invitation.") % {"email": invitation.email})
            return redirect(f"{reverse('account_login')}?next={request.path}")
        try:
            services.invitation_accept(invitation=invitation, user=request.user)
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
            return redirect("home")
        messages.success(request, _("You joined %(tenant)s.") % {"tenant": invitation.tenant.name})
        return redirect("tenant_home", slug=invitation.tenant.slug)
    form = AcceptInvitationForm(request.POST or None, email=invitation.email)
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            user = User.objects.create_user(
                invitation.email,
                form.cleaned_data["password1"],
                name=form.cleaned_data["name"],
                language=invitation.tenant.default_language,
            )
            services.invitation_accept(invitation=invitation, user=user)
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        messages.success(request, _("Welcome to %(tenant)s.") % {"tenant": invitation.tenant.name})
        return redirect("tenant_home", slug=invitation.tenant.slug)
    return render(
        request,
        "tenants/invitation_accept.html",
        {"form": form, "invitation": invitation},
        status=400 if form.errors else 200,
    )


@tenant_permission_required("view")
def notifications(request, slug):
    items = Notification.objects.filter(recipient=request.user)[:100]
    return render(request, "tenants/notifications.html", {"items": items})


@tenant_permission_required("view")
def notification_bell(request, slug):
    unread = Notification.objects.filter(recipient=request.user, read_at__isnull=True)
    return render(request, "tenants/_bell.html", {"unread_count": unread.count(), "latest": unread[:5]})


@require_POST
@tenant_permission_required("view")
def notifications_read(request, slug):
    raw_id = request.POST.get("id")
    notification_id = parse_id(raw_id)
    if raw_id and notification_id is None:  # no id marks all read; a malformed one must not
        return HttpResponseBadRequest(_("This is not a valid id."), content_type="text/plain; charset=utf-8")
    target = None
    if notification_id is not None:
        target = (
            Notification.objects.filter(recipient=request.user, pk=notification_id)
            .values_list("url", flat=True)
            .first()
        )
    services.notifications_mark_read(user=request.user, notification_id=notification_id)
    return redirect(safe_next_url(request, target, default=reverse("tenants:notifications", args=[slug])))


@tenant_permission_required("admin_tenant")
def api_keys(request, slug):
    form = ApiKeyForm(request.POST or None)
    new_key = None
    if request.method == "POST" and form.is_valid():
        try:
            _api_key, new_key = services.api_key_create(
                name=form.cleaned_data["name"], scopes=form.cleaned_data["scopes"], actor=request.user
            )
        except ValidationError as error:
            attach_service_errors(form, error)
        else:
            form = ApiKeyForm()
    keys = TenantAPIKey.objects.filter(tenant=request.tenant).order_by("-created")
    return render(
        request,
        "tenants/api_keys.html",
        {"form": form, "keys": keys, "new_key": new_key},
        status=400 if form.errors else 200,
    )


@require_POST
@tenant_permission_required("admin_tenant")
def api_key_revoke(request, slug, key_id):
    api_key = get_object_or_404(TenantAPIKey, pk=key_id, tenant=request.tenant)
    services.api_key_revoke(api_key=api_key, actor=request.user)
    messages.success(request, _("API key revoked."))
    return redirect("tenants:api_keys", slug=slug)


@tenant_permission_required("admin_tenant")
def audit_log(request, slug):
    events = AuditEvent.objects.select_related("actor")[:300]
    return render(request, "tenants/audit_log.html", {"events": events})


@tenant_permission_required("admin_tenant")
def tenant_settings(request, slug):
    form = TenantSettingsForm(request.POST or None, instance=request.tenant)
    if request.method == "POST":
        if form.is_valid():
            form.save()
            services.audit_record(action="tenant.settings_changed", actor=request.user, data=form.cleaned_data)
            messages.success(request, _("Settings saved."))
            return redirect("tenants:settings", slug=slug)
    return render(request, "tenants/settings.html", {"form": form}, status=400 if form.errors else 200)


class EmailView(AllauthEmailView):
    """/accounts/email/ (allauth's page, one address per account, ACCOUNT_CHANGE_EMAIL): the account's
    own address counts as verified, so allauth refuses to make an unverified one primary; a primary
    change that would collide with another account is refused with a message, never a 500."""

    def dispatch(self, request, *args, **kwargs):
        if request.user.is_authenticated:
            accounts.ensure_own_address(request.user)
        return super().dispatch(request, *args, **kwargs)

    def _action_primary(self, request, *args, **kwargs):
        email_address = self._get_email_address(request)
        if email_address is None:
            return None
        if not email_address.verified or accounts.owned_by_someone_else(email_address.email, request.user):
            messages.error(request, _("Only a verified address of your own can become your login address."))
            return None
        try:
            with transaction.atomic():
                return super()._action_primary(request, *args, **kwargs)
        except IntegrityError:
            messages.error(request, _("Only a verified address of your own can become your login address."))
            return None
