"""Security properties: brute-force lockout, rate limits, production cookies/HSTS, the Content
Security Policy, CSRF on every htmx/form POST, hashed API keys and the audit trail."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest
from django.conf import settings
from django.test import Client

from tenants.api import TenantRateThrottle
from tenants.context import tenant_scope
from tenants.models import AuditEvent, Membership, Role, TenantAPIKey
from tenants.services import api_key_create
from tests.factories import PASSWORD

from . import crawl

pytestmark = pytest.mark.django_db

PATTERNS = crawl.tenant_patterns()
UI_PATTERNS = [p for p in PATTERNS if not p.is_api]


@pytest.fixture
def world(realistic_world, db):
    return realistic_world


def _login(client: Client, email: str, password: str, ip: str = "203.0.113.5"):
    return client.post("/accounts/login/", {"login": email, "password": password}, REMOTE_ADDR=ip)


def _events(tenant, action: str):
    with tenant_scope(tenant.id):
        return list(AuditEvent.objects.filter(action=action))


class TestLoginBruteForce:
    """Two layers: allauth's login rate limit (per address and per account) answers first with a
    form error; django-axes locks the account+address out (429 page) — each is tested alone."""

    @pytest.fixture
    def axes_only(self, settings):
        settings.ACCOUNT_RATE_LIMITS = False

    def test_repeated_failures_lock_the_account_on_that_address(self, world, axes_only):
        user = world.users_a[Role.SALES]
        client = Client()
        for _ in range(settings.AXES_FAILURE_LIMIT):
            assert _login(client, user.email, "wrong-password-1").status_code in (200, 403, 429)
        response = _login(client, user.email, PASSWORD)
        assert "_auth_user_id" not in client.session, "the right password must not get in during a lockout"
        assert response.status_code in (403, 429)

    def test_allauth_rate_limit_alone_also_refuses_the_right_password(self, world, settings):
        settings.AXES_ENABLED = False
        user = world.users_a[Role.SALES]
        client = Client(HTTP_ACCEPT_LANGUAGE="en")
        for _ in range(5):
            _login(client, user.email, "wrong-password-1")
        response = _login(client, user.email, PASSWORD)
        assert "_auth_user_id" not in client.session
        assert response.status_code in (200, 429)

    def test_the_lockout_is_per_account_and_address(self, world, axes_only):
        user = world.users_a[Role.SALES]
        for _ in range(settings.AXES_FAILURE_LIMIT):
            _login(Client(), user.email, "wrong-password-1", ip="203.0.113.5")
        other_address = Client()
        assert _login(other_address, user.email, PASSWORD, ip="198.51.100.9").status_code == 302
        other_account = Client()
        colleague = world.users_a[Role.VIEWER]
        assert _login(other_account, colleague.email, PASSWORD, ip="203.0.113.5").status_code == 302

    def test_logins_failures_and_lockouts_are_audited_in_every_tenant_of_the_account(self, world, axes_only):
        user = world.users_a[Role.SALES]
        Membership.objects.create(user=user, tenant=world.b, role=Role.VIEWER)
        _login(Client(), user.email, PASSWORD)
        for _ in range(settings.AXES_FAILURE_LIMIT + 2):
            _login(Client(), user.email, "wrong-password-1")
        for tenant in (world.a, world.b):
            succeeded = _events(tenant, "login.succeeded")
            assert [(e.actor_id, e.ip_address) for e in succeeded] == [(user.id, "203.0.113.5")]
            assert len(_events(tenant, "login.failed")) == settings.AXES_FAILURE_LIMIT
            assert len(_events(tenant, "login.locked_out")) == 1, "one lockout event, not one per blocked try"

    def test_failures_for_unknown_accounts_record_nothing(self, world):
        _login(Client(), "nobody@nowhere.example", "whatever-123")
        with tenant_scope(world.a.id):
            assert not AuditEvent.objects.filter(action__startswith="login.").exists()


class TestRateLimits:
    def test_the_api_answers_429_with_retry_after_over_the_rate(self, world, monkeypatch):
        monkeypatch.setattr(TenantRateThrottle, "rate", "3/min", raising=False)
        client = Client(headers={"Authorization": f"Api-Key {world.plain_key_a}"})
        url = crawl.build_url(_api_list_pattern(), world, slug_side="a", object_side="a")
        statuses = [client.get(url).status_code for _ in range(4)]
        assert statuses == [200, 200, 200, 429]
        response = client.get(url)
        assert response.status_code == 429 and int(response["Retry-After"]) > 0
        assert "detail" in response.json()

    def test_the_budget_is_per_api_key(self, world, monkeypatch):
        monkeypatch.setattr(TenantRateThrottle, "rate", "2/min", raising=False)
        url = crawl.build_url(_api_list_pattern(), world, slug_side="a", object_side="a")
        first = Client(headers={"Authorization": f"Api-Key {world.plain_key_a}"})
        for _ in range(3):
            first.get(url)
        second = Client(headers={"Authorization": f"Api-Key {world.plain_key_b}"})
        assert second.get(url).status_code == 200

    def test_the_configured_api_rate_is_finite(self):
        rate = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["tenant"]
        number, _per = rate.split("/")
        assert 0 < int(number) <= 10_000
        assert "tenants.api.TenantRateThrottle" in settings.REST_FRAMEWORK["DEFAULT_THROTTLE_CLASSES"]

    def test_the_public_form_endpoint_answers_429_over_its_rate(self, world, settings):
        from leads.models import FormEndpoint

        settings.ONDO_FORM_RATE_PER_MINUTE = 3
        with tenant_scope(world.a.id):
            form = FormEndpoint.objects.order_by("pk").first()
        url = f"/f/{world.a.slug}/{form.key}/"
        client = Client()
        statuses = [
            client.post(url, {"email": f"p{i}@example.jp"}, REMOTE_ADDR="192.0.2.44").status_code for i in range(4)
        ]
        assert statuses[-1] == 429 and all(status != 429 for status in statuses[:3])
        assert client.post(url, {}, REMOTE_ADDR="192.0.2.45").status_code != 429, "per client address"


def _api_list_pattern():
    return next(p for p in PATTERNS if p.is_api and not p.object_kwargs and p.name.endswith("-list"))


class TestProductionSettings:
    def test_cookies_are_secure_and_hsts_is_on_with_debug_off(self):
        code = (
            "import json, django; django.setup(); from django.conf import settings as s;"
            "print(json.dumps({k: getattr(s, k, None) for k in ['SESSION_COOKIE_SECURE', 'CSRF_COOKIE_SECURE',"
            "'SESSION_COOKIE_HTTPONLY', 'SECURE_HSTS_SECONDS', 'SECURE_HSTS_INCLUDE_SUBDOMAINS', 'SECURE_HSTS_PRELOAD',"
            "'SECURE_SSL_REDIRECT', 'SECURE_PROXY_SSL_HEADER', 'X_FRAME_OPTIONS', 'SECURE_CONTENT_TYPE_NOSNIFF',"
            "'DEBUG', 'SECURE_CSP']}, default=str))"
        )
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DEBUG": "0",
            "SECRET_KEY": "prod-like-" + "k3y-Zx9!" * 8,
            "ALLOWED_HOSTS": "ondo.example.jp",
            "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/ondo",
            "REDIS_URL": "redis://127.0.0.1:6379/15",
        }
        result = subprocess.run(
            [sys.executable, "-c", code], cwd=settings.BASE_DIR, env=env, capture_output=True, text=True, check=True
        )
        values = json.loads(result.stdout.strip().splitlines()[-1])
        assert values["DEBUG"] is False
        assert values["SESSION_COOKIE_SECURE"] and values["CSRF_COOKIE_SECURE"] and values["SESSION_COOKIE_HTTPONLY"]
        assert values["SECURE_HSTS_SECONDS"] >= 31_536_000
        assert values["SECURE_HSTS_INCLUDE_SUBDOMAINS"] and values["SECURE_HSTS_PRELOAD"]
        assert values["SECURE_SSL_REDIRECT"] is True
        assert values["X_FRAME_OPTIONS"] == "DENY" and values["SECURE_CONTENT_TYPE_NOSNIFF"]

    def test_the_check_deploy_test_exists(self):
        source = (settings.BASE_DIR / "tests" / "tenants" / "test_deploy.py").read_text()
        assert '"check", "--deploy"' in source


class TestContentSecurityPolicy:
    def test_pages_send_a_policy_without_unsafe_inline_scripts(self, world, client_for):
        response = client_for(world.users_a[Role.ADMIN]).get(f"/t/{world.a.slug}/members/")
        policy = response["Content-Security-Policy"]
        directives = dict(part.strip().split(" ", 1) for part in policy.split(";") if " " in part.strip())
        assert "'unsafe-inline'" not in directives["script-src"] and "'unsafe-eval'" not in directives["script-src"]
        assert "'nonce-" in directives["script-src"]
        assert directives["object-src"] == "'none'" and directives["frame-ancestors"] == "'none'"

    def test_no_page_needs_inline_script_handlers_or_style_attributes(self, world):
        """What the policy would block in the browser, checked in the HTML of every tenant page:
        <script> without src and nonce, on*= handlers, style= attributes, javascript: URLs."""
        client = Client(raise_request_exception=False)
        client.force_login(world.users_a[Role.ADMIN], backend="django.contrib.auth.backends.ModelBackend")
        problems = []
        for pattern in UI_PATTERNS:
            for url in crawl.build_urls(pattern, world, slug_side="a", object_side="a"):
                for headers in ({}, {"HX-Request": "true"}):
                    response = client.get(url, headers=headers)
                    if response.status_code != 200 or "html" not in response.get("Content-Type", ""):
                        continue
                    html = response.content.decode()
                    nonce = _nonce(response)
                    for tag in re.findall(r"<script\b[^>]*>", html, flags=re.I):
                        if "src=" not in tag and f'nonce="{nonce}"' not in tag and "application/json" not in tag:
                            problems.append(f"{url}: inline <script> without the nonce: {tag[:80]}")
                    for attr in re.findall(r"<[a-z][^>]*?\s(on[a-z]+)\s*=", html, flags=re.I):
                        problems.append(f"{url}: inline event handler {attr}=")
                    if re.search(r"<[a-z][^>]*?\sstyle\s*=", html, flags=re.I):
                        problems.append(f"{url}: style= attribute (blocked by style-src without 'unsafe-inline')")
                    if re.search(r"""(href|src|action)\s*=\s*["']\s*javascript:""", html, flags=re.I):
                        problems.append(f"{url}: javascript: URL")
        assert not problems, "\n".join(sorted(set(problems))[:40])


def _nonce(response) -> str:
    match = re.search(r"'nonce-([^']+)'", response.get("Content-Security-Policy", ""))
    return match.group(1) if match else "-"


# Views that accept POSTs without a CSRF token on purpose, and why.
CSRF_EXEMPT: dict[str, str] = {}


class TestCsrf:
    @pytest.mark.parametrize("pattern", [p for p in UI_PATTERNS if p.name not in CSRF_EXEMPT], ids=lambda p: p.name)
    def test_a_post_without_the_token_is_rejected(self, pattern, world):
        """Every tenant page and htmx endpoint, as A's admin with a valid session: a form or htmx
        POST without the CSRF token is refused (403) and changes nothing."""
        client = Client(enforce_csrf_checks=True, raise_request_exception=False)
        client.force_login(world.users_a[Role.ADMIN], backend="django.contrib.auth.backends.ModelBackend")
        from .objects import diff, snapshot

        before = snapshot(world.a)
        for url in crawl.build_urls(pattern, world, slug_side="a", object_side="a"):
            for headers in ({"HX-Request": "true"}, {}):
                response = client.post(url, {"name": "x"}, headers=headers)
                assert response.status_code == 403, (
                    f"POST {url} {headers} without a CSRF token -> {response.status_code}"
                )
        changed = [label for label in diff(before, snapshot(world.a)) if label != "tenants.AuditEvent"]
        assert changed == []

    def test_api_writes_with_a_session_need_the_token_too(self, world):
        client = Client(enforce_csrf_checks=True, headers={"X-Ondo-Tenant": world.a.slug})
        client.force_login(world.users_a[Role.ADMIN], backend="django.contrib.auth.backends.ModelBackend")
        url = crawl.build_url(_api_list_pattern(), world, slug_side="a", object_side="a")
        response = client.post(url, data="{}", content_type="application/json")
        assert response.status_code == 403
        assert "CSRF" in response.json()["detail"]

    def test_pages_carry_the_token_for_htmx(self, world, client_for):
        html = client_for(world.users_a[Role.ADMIN]).get(f"/t/{world.a.slug}/members/").content.decode()
        assert re.search(r"""hx-headers='\{"X-CSRFToken": "[A-Za-z0-9]{32,}"\}'""", html)


class TestApiKeys:
    def test_only_a_hash_of_the_key_is_stored(self, world):
        with tenant_scope(world.a.id):
            api_key, plain = api_key_create(name="CRM", actor=world.users_a[Role.ADMIN])
        row = TenantAPIKey.objects.filter(pk=api_key.pk).values().get()
        secret = plain.split(".", 1)[1]
        assert all(secret not in str(value) for value in row.values()), "the secret part is stored"
        assert row["hashed_key"] and row["hashed_key"] != plain
        assert TenantAPIKey.objects.is_valid(plain)
        assert not TenantAPIKey.objects.is_valid(plain[:-1] + ("x" if plain[-1] != "x" else "y"))

    def test_the_key_is_shown_once(self, world, client_for):
        client = client_for(world.users_a[Role.ADMIN])
        response = client.post(f"/t/{world.a.slug}/api-keys/", {"name": "Website"})
        plain = re.search(r"[A-Za-z0-9]{8}\.[A-Za-z0-9]{32}", response.content.decode()).group(0)
        assert plain not in client.get(f"/t/{world.a.slug}/api-keys/").content.decode()

    def test_a_revoked_key_stops_working(self, world):
        url = crawl.build_url(_api_list_pattern(), world, slug_side="a", object_side="a")
        client = Client(headers={"Authorization": f"Api-Key {world.plain_key_a}"})
        assert client.get(url).status_code == 200
        TenantAPIKey.objects.filter(pk=world.key_a.pk).update(revoked=True)
        assert client.get(url).status_code in (401, 403)


class TestAuditLog:
    def test_role_changes_and_api_keys_are_recorded_and_shown_to_admins_only(self, world, client_for):
        admin = client_for(world.users_a[Role.ADMIN])
        membership = Membership.objects.get(user=world.users_a[Role.VIEWER], tenant=world.a)
        assert admin.post(f"/t/{world.a.slug}/members/{membership.pk}/", {"role": "sales"}).status_code == 302
        admin.post(f"/t/{world.a.slug}/api-keys/", {"name": "Website"})
        key = TenantAPIKey.objects.filter(tenant=world.a, name="Website").get()
        admin.post(f"/t/{world.a.slug}/api-keys/{key.pk}/revoke/")
        for action in ("membership.role_changed", "api_key.created", "api_key.revoked"):
            assert len(_events(world.a, action)) == 1, action
            assert _events(world.b, action) == []
        page = admin.get(f"/t/{world.a.slug}/audit/")
        assert page.status_code == 200
        html = page.content.decode()
        assert "membership.role_changed" in html and "api_key.revoked" in html and key.prefix in html
        for role in (Role.MARKETING, Role.SALES):
            assert client_for(world.users_a[role]).get(f"/t/{world.a.slug}/audit/").status_code == 403

    def test_other_tenants_events_are_not_listed(self, world, client_for):
        with tenant_scope(world.b.id):
            from tenants.services import audit_record

            audit_record(action="secret.of_b", target="QZXB9-target")
        html = client_for(world.users_a[Role.ADMIN]).get(f"/t/{world.a.slug}/audit/").content.decode()
        assert "secret.of_b" not in html and "QZXB9" not in html

    def test_every_export_and_download_is_recorded(self, world):
        """Generic over every tenant page: whatever answers with a file (CSV export, download)
        leaves an audit event naming the export."""
        client = Client(raise_request_exception=False)
        client.force_login(world.users_a[Role.ADMIN], backend="django.contrib.auth.backends.ModelBackend")
        downloads, unrecorded = [], []
        for pattern in UI_PATTERNS:
            for url in crawl.build_urls(pattern, world, slug_side="a", object_side="a"):
                with tenant_scope(world.a.id):
                    before = AuditEvent.objects.filter(action__contains="export").count()
                response = client.get(url)
                content_type = response.get("Content-Type", "")
                is_file = response.get("Content-Disposition", "").startswith("attachment") or "csv" in content_type
                if response.status_code != 200 or not is_file:
                    continue
                downloads.append(url)
                with tenant_scope(world.a.id):
                    if AuditEvent.objects.filter(action__contains="export").count() != before + 1:
                        unrecorded.append(url)
        assert downloads, "no export found to check"
        assert not unrecorded, f"exports without exactly one audit event: {unrecorded}"

    def test_mql_approvals_are_audited_and_listed(self, world, client_for):
        from mql import services as mql

        with tenant_scope(world.a.id):
            draft = mql.definition_create_draft(actor=world.users_a[Role.MARKETING])
            mql.definition_approve(definition=draft, approver=world.users_a[Role.SALES])
            approved = [e.target for e in AuditEvent.objects.filter(action="mql.definition_approved")]
        assert f"v{draft.version}" in approved
        html = client_for(world.users_a[Role.ADMIN]).get(f"/t/{world.a.slug}/audit/").content.decode()
        assert "mql.definition_approved" in html
