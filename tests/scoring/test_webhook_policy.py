"""Hot-lead webhooks under the outbound policy (#19 High 4, SSRF).

Saving an internal or non-https webhook URL is refused on the settings page with a clear message in
the user's language and nothing changes; a URL that is stored anyway (saved before the policy, or
whose name now resolves inside) is refused at delivery before any connection, with a status that is
the same whether an internal port answers or not; a redirect is a failed delivery, never followed."""

import socket

import pytest
from django.urls import reverse

from scoring import engine, services, tasks, webhooks
from scoring.models import HotLeadAlert, ScoringSettings
from tenants import outbound
from tenants.context import tenant_scope

from ..local_http import closed_port, local_server
from .test_alerts import hot_ready  # noqa: F401 - a warm lead one pricing view makes hot


@pytest.fixture
def alert_id(hot_ready, act):  # noqa: F811
    act(hot_ready, "pricing_view")
    (alert_id,) = engine.rescore_leads([hot_ready.pk]).alert_ids
    return alert_id


def store_webhook_url(url: str) -> None:
    """Writes the URL the way a row saved before the policy holds it (the service does not resolve names)."""
    services.settings_update(follow_up_hours=48, email_alerts=False, webhook_url=url, webhook_secret="s")


def reset(alert_id: int) -> None:
    HotLeadAlert.objects.filter(pk=alert_id).update(webhook_status="pending", webhook_last_error="", webhook_attempts=0)


def delivery_state(alert_id: int) -> tuple[str, str]:
    alert = HotLeadAlert.objects.get(pk=alert_id)
    return alert.webhook_status, alert.webhook_last_error


# --- delivery ------------------------------------------------------------------------------------------


def test_a_stored_loopback_webhook_is_refused_at_delivery_and_the_listener_gets_nothing(alert_id):
    with local_server() as (listener, port):
        store_webhook_url(f"http://127.0.0.1:{port}/hook")
        assert webhooks.send(alert_id) == "refused"
    assert listener.requests == []
    assert delivery_state(alert_id) == ("failed", "refused by policy")


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1:6379/",  # Redis
        "https://[::1]:5432/",  # PostgreSQL
        "https://169.254.169.254/latest/meta-data/iam/security-credentials/",
        "https://10.0.0.5/hook",
        "https://[::ffff:127.0.0.1]:6379/",
        "https://localhost:6379/",
    ],
)
def test_internal_destinations_are_refused_without_a_connection(alert_id, url, monkeypatch):
    attempts = []
    monkeypatch.setattr(socket, "create_connection", lambda address, *a, **k: attempts.append(address))
    store_webhook_url(url)
    assert webhooks.send(alert_id) == "refused"
    assert attempts == []
    assert delivery_state(alert_id) == ("failed", "refused by policy")


def test_the_delivery_status_does_not_tell_which_internal_ports_answer(alert_id):
    states = []
    with local_server() as (listener, open_port):
        for port in (open_port, closed_port(), 6379):
            reset(alert_id)
            store_webhook_url(f"https://127.0.0.1:{port}/hook")
            webhooks.send(alert_id)
            states.append(delivery_state(alert_id))
    assert states == [("failed", "refused by policy")] * 3
    assert listener.requests == []


def test_a_name_that_now_resolves_inside_is_refused_at_delivery(alert_id, monkeypatch):
    monkeypatch.setattr(outbound, "resolve", lambda host, port: ["93.184.215.14"])
    store_webhook_url("https://hooks.example.com/ondo")
    monkeypatch.setattr(outbound, "resolve", lambda host, port: ["127.0.0.1"])  # DNS rebinding
    assert webhooks.send(alert_id) == "refused"
    assert delivery_state(alert_id) == ("failed", "refused by policy")


def test_a_refused_destination_is_not_retried_by_the_task(alert_id, scoped):
    store_webhook_url("https://192.168.0.10/hook")
    result = tasks.send_alert_webhook.apply(args=[scoped.pk, alert_id])
    assert result.get() == "refused"
    assert HotLeadAlert.objects.get(pk=alert_id).webhook_attempts == 1


def test_a_redirect_fails_the_delivery_and_its_target_gets_no_request(alert_id, settings):
    with local_server() as (target, target_port), local_server() as (receiver, port):
        settings.ONDO_OUTBOUND_ALLOWED_TEST_HOSTS = [f"127.0.0.1:{port}", f"127.0.0.1:{target_port}"]
        receiver.status = 302
        receiver.headers = {"Location": f"http://127.0.0.1:{target_port}/admin"}
        store_webhook_url(f"http://127.0.0.1:{port}/hook")
        with pytest.raises(webhooks.WebhookFailed):
            webhooks.send(alert_id)
    assert len(receiver.requests) == 1
    assert target.requests == []
    assert delivery_state(alert_id) == ("retrying", "HTTP 302 (redirects are not followed)")
    assert HotLeadAlert.objects.get(pk=alert_id).webhook_delivered_at is None


def test_an_allowed_receiver_gets_the_signed_webhook(alert_id, settings):
    with local_server() as (receiver, port):
        settings.ONDO_OUTBOUND_ALLOWED_TEST_HOSTS = [f"127.0.0.1:{port}"]
        store_webhook_url(f"http://127.0.0.1:{port}/hook")
        assert webhooks.send(alert_id) == "delivered"
    (request,) = receiver.requests
    headers = request["headers"]
    assert webhooks.verify("s", headers["X-Ondo-Timestamp"], request["body"], headers["X-Ondo-Signature"])
    assert headers["User-Agent"] == "Ondo-Webhook/1"
    assert delivery_state(alert_id) == ("delivered", "")


# --- save time -----------------------------------------------------------------------------------------


def settings_url():
    return reverse("scoring:settings", args=["acme"])


INTERNAL_URLS = [
    ("https://169.254.169.254/latest/meta-data/", "公開ホスト"),
    ("https://127.0.0.1:6379/", "公開ホスト"),
    ("https://[::1]/hook", "公開ホスト"),
    ("https://10.1.2.3/hook", "公開ホスト"),
    ("https://[fe80::1]/hook", "公開ホスト"),
    ("https://localhost/hook", "公開ホスト"),
    ("http://hooks.example.com/ondo", "Webhook URLは https:// で始めてください。"),
]


@pytest.mark.parametrize(
    ("role", "webhook_url", "message"),
    [(role, url, message) for role in ("admin", "marketing") for url, message in INTERNAL_URLS],
)
def test_the_settings_page_refuses_an_internal_webhook_url_in_japanese(
    tenant, users, client_for, monkeypatch, role, webhook_url, message
):
    real = outbound.resolve
    monkeypatch.setattr(
        outbound, "resolve", lambda h, p: ["93.184.215.14"] if h.endswith("example.com") else real(h, p)
    )
    with tenant_scope(tenant.pk):
        services.settings_update(
            follow_up_hours=48, email_alerts=True, webhook_url="https://hooks.example.com/ok", webhook_secret="keep"
        )
    response = client_for(users[role]).post(
        settings_url(), {"follow_up_hours": 12, "email_alerts": "", "webhook_url": webhook_url}
    )
    assert response.status_code == 400
    assert message in response.content.decode()
    with tenant_scope(tenant.pk):
        row = ScoringSettings.objects.get()
        assert (row.webhook_url, row.follow_up_hours, row.email_alerts, row.webhook_secret) == (
            "https://hooks.example.com/ok",
            48,
            True,
            "keep",
        )


def test_the_settings_page_saves_a_public_https_webhook(tenant, users, client_for, monkeypatch):
    monkeypatch.setattr(outbound, "resolve", lambda host, port: ["93.184.215.14"])
    response = client_for(users["marketing"]).post(
        settings_url(), {"follow_up_hours": 24, "webhook_url": "https://hooks.example.com/ondo"}
    )
    assert response.status_code == 302
    with tenant_scope(tenant.pk):
        assert ScoringSettings.objects.get().webhook_url == "https://hooks.example.com/ondo"


def test_the_operators_admin_form_refuses_an_internal_webhook_url(tenant):
    from django.core.exceptions import ValidationError

    row = ScoringSettings(tenant=tenant, webhook_url="https://169.254.169.254/latest/meta-data/")
    with pytest.raises(ValidationError) as error:
        row.clean_fields(exclude=["tenant"])
    assert "webhook_url" in error.value.message_dict


# --- payload ---------------------------------------------------------------------------------------------


def test_the_payload_carries_only_what_a_receiver_needs_to_act_on_the_alert(alert_id, hot_ready):  # noqa: F811
    """Identity (id, e-mail, name, company, title), the score and the owner: never the phone, the
    free-text need, custom fields, consent flags or the activity history."""
    hot_ready.phone = "03-1234-5678"
    hot_ready.need = "予算は社長決裁、競合A社と比較中"
    hot_ready.custom_fields = {"memo": "個人的な事情"}
    hot_ready.save()
    body = webhooks.payload(HotLeadAlert.objects.select_related("lead", "lead__owner").get(pk=alert_id))
    assert set(body) == {"type", "alert_id", "created_at", "due_at", "lead"}
    assert set(body["lead"]) == {
        "id",
        "email",
        "name",
        "company",
        "title",
        "score_total",
        "score_behaviour",
        "score_fit",
        "segment",
        "owner",
    }
    text = str(body)
    assert "03-1234-5678" not in text and "競合" not in text and "個人的" not in text
