"""The client's address behind the trusted reverse proxies (#19 Medium 7): per-address limits stay per address."""

import pytest
from django.test import Client, RequestFactory, override_settings

from leads import services as lead_services
from leads.models import Lead
from tenants.clientip import client_ip
from tenants.context import tenant_scope

PROXY = "10.0.0.5"


def _request(remote="10.0.0.5", forwarded=None):
    headers = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        headers["HTTP_X_FORWARDED_FOR"] = forwarded
    return RequestFactory().get("/", **headers)


class TestClientIp:
    def test_with_no_trusted_proxy_the_peer_is_the_client_and_the_header_is_ignored(self):
        assert client_ip(_request("203.0.113.7", forwarded="198.51.100.1")) == "203.0.113.7"

    @override_settings(ONDO_TRUSTED_PROXY_COUNT=1)
    def test_one_proxy_the_address_it_appended_is_the_client(self):
        assert client_ip(_request(forwarded="203.0.113.7")) == "203.0.113.7"

    @override_settings(ONDO_TRUSTED_PROXY_COUNT=1)
    def test_a_spoofed_entry_left_of_the_proxys_is_not_trusted(self):
        assert client_ip(_request(forwarded="1.2.3.4, 203.0.113.7")) == "203.0.113.7"

    @override_settings(ONDO_TRUSTED_PROXY_COUNT=2)
    def test_two_proxies_the_second_entry_from_the_right(self):
        assert client_ip(_request(forwarded="9.9.9.9, 203.0.113.7, 10.0.0.9")) == "203.0.113.7"

    @override_settings(ONDO_TRUSTED_PROXY_COUNT=2)
    def test_fewer_entries_than_proxies_falls_back_to_the_peer(self):
        assert client_ip(_request("10.0.0.5", forwarded="203.0.113.7")) == "10.0.0.5"

    @override_settings(ONDO_TRUSTED_PROXY_COUNT=1)
    def test_garbage_in_the_header_falls_back_to_the_peer(self):
        assert client_ip(_request("10.0.0.5", forwarded="<script>")) == "10.0.0.5"
        assert client_ip(_request("10.0.0.5", forwarded="")) == "10.0.0.5"

    @override_settings(ONDO_TRUSTED_PROXY_COUNT=1)
    def test_ipv6_clients(self):
        assert client_ip(_request(forwarded="2001:db8::1")) == "2001:db8::1"


@pytest.fixture
def form(tenant):
    with tenant_scope(tenant.id):
        return lead_services.form_endpoint_create(name="お問い合わせ", channel="seo", campaign="Web問い合わせ")


def _post_form(tenant, form, visitor, email):
    return Client().post(
        f"/f/{tenant.slug}/{form.key}/",
        {"ondo_token": form.token, "email": email, "website": ""},
        REMOTE_ADDR=PROXY,
        HTTP_X_FORWARDED_FOR=visitor,
    )


@pytest.mark.django_db
@override_settings(ONDO_TRUSTED_PROXY_COUNT=1, ONDO_FORM_RATE_PER_MINUTE=3)
def test_a_flooding_address_behind_the_proxy_does_not_block_a_real_visitors_inquiry(tenant, form):
    statuses = [_post_form(tenant, form, "198.51.100.66", f"spam{i}@example.jp").status_code for i in range(10)]
    assert statuses[:3] == [200, 200, 200] and set(statuses[3:]) == {429}
    assert _post_form(tenant, form, "203.0.113.7", "buyer@example.jp").status_code == 200
    with tenant_scope(tenant.id):
        assert Lead.objects.filter(email="buyer@example.jp").exists()


@pytest.mark.django_db
@override_settings(ONDO_TRUSTED_PROXY_COUNT=1, ONDO_FORM_RATE_PER_MINUTE=3)
def test_rotating_a_spoofed_header_does_not_escape_the_limit(tenant, form):
    statuses = [
        _post_form(tenant, form, f"1.2.3.{i}, 198.51.100.66", f"spam{i}@example.jp").status_code for i in range(6)
    ]
    assert statuses.count(200) == 3 and statuses.count(429) == 3


@pytest.mark.django_db
@override_settings(ONDO_TRUSTED_PROXY_COUNT=1)
def test_failed_logins_from_one_address_do_not_block_logins_from_another(tenant, users):
    from tenants.models import AuditEvent
    from tests.factories import PASSWORD

    attacker = Client(REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR="198.51.100.66")
    statuses = [
        attacker.post("/accounts/login/", {"login": f"guess{i}@acme.example", "password": "wrong-password"}).status_code
        for i in range(12)
    ]
    assert set(statuses) <= {200, 429}
    visitor = Client(REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR="203.0.113.7")
    visitor.post("/accounts/login/", {"login": users["sales"].email, "password": PASSWORD})
    assert "_auth_user_id" in visitor.session  # another visitor behind the same proxy is not blocked
    with tenant_scope(tenant.id):
        addresses = set(AuditEvent.objects.exclude(ip_address=None).values_list("ip_address", flat=True))
    assert "203.0.113.7" in addresses and PROXY not in addresses  # the audit trail names the client


@override_settings(ONDO_TRUSTED_PROXY_COUNT=1)
def test_allauths_login_rate_limit_counts_per_client_behind_the_proxy():
    from allauth.account.adapter import get_adapter

    assert get_adapter().get_client_ip(_request(PROXY, forwarded="203.0.113.7")) == "203.0.113.7"


@override_settings(ONDO_TRUSTED_PROXY_COUNT=1)
def test_axes_locks_out_per_client_behind_the_proxy():
    from axes.helpers import get_client_ip_address

    assert get_client_ip_address(_request(PROXY, forwarded="203.0.113.7")) == "203.0.113.7"
