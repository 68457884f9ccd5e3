"""The outbound policy (tenants/outbound.py): a tenant-chosen URL reaches public https hosts only.

Every loopback, private, link-local, metadata, multicast, reserved, unspecified, CGNAT and tunnelled
(IPv4-mapped, 6to4, Teredo, NAT64) address is refused at save time with a translated message and
again at delivery, before any connection; delivery connects to the address it checked with the
URL's Host header and TLS name, and follows no redirect."""

import datetime
import socket
import ssl

import pytest
from django.core.exceptions import ValidationError
from django.utils import translation

from tenants import outbound
from tenants.outbound import OutboundFailed, OutboundRefused, address_refusal, post_json, validate_outbound_url

from ..local_http import closed_port, local_server

REFUSED_ADDRESSES = [
    pytest.param("127.0.0.1", id="ipv4-loopback"),
    pytest.param("127.255.255.254", id="ipv4-loopback-range"),
    pytest.param("::1", id="ipv6-loopback"),
    pytest.param("10.0.0.1", id="10/8"),
    pytest.param("172.16.0.1", id="172.16/12"),
    pytest.param("172.31.255.254", id="172.16/12-top"),
    pytest.param("192.168.1.1", id="192.168/16"),
    pytest.param("169.254.169.254", id="metadata-169.254.169.254"),
    pytest.param("169.254.0.1", id="ipv4-link-local"),
    pytest.param("fe80::1", id="ipv6-link-local-fe80"),
    pytest.param("fc00::1", id="ipv6-unique-local-fc00"),
    pytest.param("fd00:ec2::254", id="ipv6-metadata-fd00-ec2"),
    pytest.param("fec0::1", id="ipv6-site-local"),
    pytest.param("224.0.0.1", id="ipv4-multicast"),
    pytest.param("239.255.255.250", id="ipv4-multicast-ssdp"),
    pytest.param("ff02::1", id="ipv6-multicast"),
    pytest.param("0.0.0.0", id="ipv4-unspecified"),  # noqa: S104 - the address under test
    pytest.param("::", id="ipv6-unspecified"),
    pytest.param("100.64.0.1", id="cgnat-100.64/10"),
    pytest.param("240.0.0.1", id="ipv4-reserved-240/4"),
    pytest.param("255.255.255.255", id="ipv4-broadcast"),
    pytest.param("198.18.0.1", id="benchmarking-198.18/15"),
    pytest.param("192.0.2.1", id="documentation"),
    pytest.param("::ffff:10.0.0.1", id="ipv4-mapped-private"),
    pytest.param("::ffff:127.0.0.1", id="ipv4-mapped-loopback"),
    pytest.param("::ffff:8.8.8.8", id="ipv4-mapped-even-public"),
    pytest.param("2002:7f00:1::1", id="6to4"),
    pytest.param("2001:0:4136:e378:8000:63bf:3fff:fdd2", id="teredo"),
    pytest.param("64:ff9b::a00:1", id="nat64"),
]

PUBLIC_ADDRESSES = ["8.8.8.8", "93.184.215.14", "2606:4700:4700::1111", "2a00:1450:4001:82a::200e"]


def url_for(address: str, scheme: str = "https", path: str = "/hook") -> str:
    host = f"[{address}]" if ":" in address else address
    return f"{scheme}://{host}{path}"


@pytest.fixture
def fake_dns(monkeypatch):
    """Names resolve as the test says (so no test depends on the network's DNS)."""
    answers: dict[str, list[str]] = {}
    real = outbound.resolve

    def resolve(host, port):
        if host in answers:
            return answers[host]
        return real(host, port)

    monkeypatch.setattr(outbound, "resolve", resolve)
    return answers


@pytest.fixture
def no_connections(monkeypatch):
    """Fails the test if anything tries to open a TCP connection."""
    attempts = []

    def refuse(address, *args, **kwargs):
        attempts.append(address)
        raise AssertionError(f"a connection to {address} was attempted")

    monkeypatch.setattr(socket, "create_connection", refuse)
    return attempts


# --- the address policy -----------------------------------------------------------------------------


@pytest.mark.parametrize("address", REFUSED_ADDRESSES)
def test_every_non_public_address_is_refused(address):
    assert address_refusal(address) is not None


@pytest.mark.parametrize("address", PUBLIC_ADDRESSES)
def test_public_unicast_addresses_are_allowed(address):
    assert address_refusal(address) is None


@pytest.mark.parametrize("address", REFUSED_ADDRESSES)
def test_a_url_with_the_address_literal_is_refused_at_save_time(address):
    with pytest.raises(ValidationError) as error:
        validate_outbound_url(url_for(address))
    assert error.value.code == "outbound_address"


@pytest.mark.parametrize("address", REFUSED_ADDRESSES)
def test_a_name_resolving_to_the_address_is_refused_at_save_time(address, fake_dns):
    fake_dns["hooks.example.com"] = [address]
    with pytest.raises(ValidationError):
        validate_outbound_url("https://hooks.example.com/ondo")


@pytest.mark.parametrize("address", REFUSED_ADDRESSES)
def test_delivery_to_the_address_is_refused_before_connecting(address, fake_dns, no_connections):
    fake_dns["hooks.example.com"] = [address]
    for url in (url_for(address), "https://hooks.example.com/ondo"):
        with pytest.raises(OutboundRefused) as refused:
            post_json(url, {"x": 1})
        assert str(refused.value) == "refused by policy"
    assert no_connections == []


def test_localhost_resolves_to_loopback_and_is_refused(no_connections):
    for url in ("https://localhost/hook", "https://LOCALHOST./hook", "https://localhost:6379/"):
        with pytest.raises(ValidationError):
            validate_outbound_url(url)
        with pytest.raises(OutboundRefused):
            post_json(url, {})
    assert no_connections == []


@pytest.mark.parametrize("host", ["2130706433", "0x7f000001", "127.1", "0177.0.0.1"])
def test_unusual_spellings_of_loopback_are_refused(host, no_connections):
    with pytest.raises(ValidationError):
        validate_outbound_url(f"https://{host}/hook")
    with pytest.raises(OutboundRefused):
        post_json(f"https://{host}/hook", {})
    assert no_connections == []


def test_one_internal_answer_among_public_ones_refuses_the_name(fake_dns, no_connections):
    fake_dns["rebind.example.com"] = ["93.184.215.14", "127.0.0.1"]
    with pytest.raises(ValidationError):
        validate_outbound_url("https://rebind.example.com/hook")
    with pytest.raises(OutboundRefused):
        post_json("https://rebind.example.com/hook", {})


def test_a_public_https_name_is_accepted(fake_dns):
    fake_dns["hooks.example.com"] = ["93.184.215.14", "2606:4700:4700::1111"]
    validate_outbound_url("https://hooks.example.com/ondo?team=1")
    validate_outbound_url("")  # an empty (optional) URL is not this validator's business


# --- scheme, credentials, messages ------------------------------------------------------------------


def test_http_is_refused_in_production_with_a_japanese_message(settings, fake_dns):
    settings.DEBUG = False
    settings.ONDO_OUTBOUND_ALLOW_HTTP = False
    fake_dns["hooks.example.com"] = ["93.184.215.14"]
    with translation.override("ja"):
        with pytest.raises(ValidationError) as error:
            validate_outbound_url("http://hooks.example.com/ondo")
        assert error.value.messages == ["Webhook URLは https:// で始めてください。"]
    with pytest.raises(OutboundRefused):
        post_json("http://hooks.example.com/ondo", {})


def test_http_needs_debug_or_the_explicit_setting(settings, fake_dns):
    fake_dns["hooks.example.com"] = ["93.184.215.14"]
    settings.DEBUG = False
    settings.ONDO_OUTBOUND_ALLOW_HTTP = True
    validate_outbound_url("http://hooks.example.com/ondo")
    settings.ONDO_OUTBOUND_ALLOW_HTTP = False
    settings.DEBUG = True
    validate_outbound_url("http://hooks.example.com/ondo")


def test_allowing_http_never_allows_internal_addresses(settings, no_connections):
    settings.ONDO_OUTBOUND_ALLOW_HTTP = True
    for url in ("http://127.0.0.1:6379/", "http://169.254.169.254/latest/meta-data/", "http://[::1]:5432/"):
        with pytest.raises(ValidationError):
            validate_outbound_url(url)
        with pytest.raises(OutboundRefused):
            post_json(url, {})


@pytest.mark.parametrize(
    "url",
    [
        "ftp://hooks.example.com/",
        "gopher://127.0.0.1:6379/_INFO",
        "file:///etc/passwd",
        "https://",
        "https:///x",
        "https://hooks.example.com:99999/",
        "https://hooks.example.com/a b",
        "https://hooks.example.com/\r\nX: y",
    ],
)
def test_malformed_or_other_scheme_urls_are_refused(url, fake_dns):
    fake_dns["hooks.example.com"] = ["93.184.215.14"]
    with pytest.raises(ValidationError):
        validate_outbound_url(url)


def test_credentials_in_the_url_are_refused(fake_dns):
    fake_dns["hooks.example.com"] = ["93.184.215.14"]
    with translation.override("en"):
        with pytest.raises(ValidationError) as error:
            validate_outbound_url("https://user:pw@hooks.example.com/hook")
        assert error.value.messages == ["The webhook URL must not contain a user name or password."]
    with translation.override("ja"):
        assert error.value.messages == ["Webhook URLにユーザー名やパスワードを含めることはできません。"]


def test_internal_and_unresolvable_names_get_the_same_message(fake_dns):
    """No oracle: the message does not tell whether an internal name exists."""
    fake_dns["redis.internal"] = ["10.0.0.7"]
    fake_dns["nothing.internal"] = []
    messages = []
    for url in ("https://redis.internal/", "https://nothing.internal/", "https://no-such-host.invalid/"):
        with translation.override("ja"):
            with pytest.raises(ValidationError) as error:
                validate_outbound_url(url)
            messages.append(error.value.messages)
    assert messages[0] == messages[1] == messages[2]
    assert "公開ホスト" in messages[0][0]


# --- delivery: pinned address, Host and SNI, no redirects ----------------------------------------------


def test_delivery_connects_to_the_checked_address_with_the_original_host_header(settings, fake_dns):
    with local_server() as (recorder, port):
        settings.ONDO_OUTBOUND_ALLOWED_TEST_HOSTS = [f"hook.test:{port}"]
        # The name exists only in the answer that was checked: the request can only have gone to it.
        fake_dns["hook.test"] = ["127.0.0.1"]
        response = post_json(f"http://hook.test:{port}/in?x=1", {"名前": "山田"}, headers={"X-Ondo-Delivery": "d1"})
    assert response.status == 200
    (request,) = recorder.requests
    assert request["headers"]["Host"] == f"hook.test:{port}"
    assert request["path"] == "/in?x=1"
    assert request["headers"]["X-Ondo-Delivery"] == "d1"
    assert request["body"].decode() == '{"名前": "山田"}'


def test_the_address_is_resolved_once_per_delivery(settings, monkeypatch):
    """DNS rebinding: a second, different answer is never asked for, so it cannot be used."""
    answers = iter([["127.0.0.1"], ["169.254.169.254"]])
    calls = []

    def resolve(host, port):
        calls.append(host)
        return next(answers)

    monkeypatch.setattr(outbound, "resolve", resolve)
    with local_server() as (recorder, port):
        settings.ONDO_OUTBOUND_ALLOWED_TEST_HOSTS = [f"rebind.test:{port}"]
        post_json(f"http://rebind.test:{port}/", {})
    assert calls == ["rebind.test"] and len(recorder.requests) == 1


def test_a_redirect_is_a_failed_delivery_and_is_not_followed(settings):
    with local_server() as (target, target_port), local_server() as (redirector, port):
        settings.ONDO_OUTBOUND_ALLOWED_TEST_HOSTS = [f"127.0.0.1:{port}", f"127.0.0.1:{target_port}"]
        redirector.status = 302
        redirector.headers = {"Location": f"http://127.0.0.1:{target_port}/internal"}
        with pytest.raises(OutboundFailed) as failed:
            post_json(f"http://127.0.0.1:{port}/hook", {"a": 1})
    assert str(failed.value) == "HTTP 302 (redirects are not followed)"
    assert len(redirector.requests) == 1
    assert target.requests == []


def test_non_2xx_answers_fail_with_the_status_only(settings):
    with local_server() as (recorder, port):
        settings.ONDO_OUTBOUND_ALLOWED_TEST_HOSTS = [f"127.0.0.1:{port}"]
        recorder.status = 503
        with pytest.raises(OutboundFailed) as failed:
            post_json(f"http://127.0.0.1:{port}/", {})
    assert str(failed.value) == "HTTP 503"


def test_network_failures_say_nothing_about_the_far_side(settings):
    port = closed_port()
    settings.ONDO_OUTBOUND_ALLOWED_TEST_HOSTS = [f"127.0.0.1:{port}"]
    with pytest.raises(OutboundFailed) as failed:
        post_json(f"http://127.0.0.1:{port}/", {})
    assert str(failed.value) == "connection failed"


def test_the_test_allowlist_opens_loopback_only(settings, fake_dns, no_connections):
    settings.ONDO_OUTBOUND_ALLOWED_TEST_HOSTS = ["meta.test:80", "169.254.169.254:80"]
    fake_dns["meta.test"] = ["169.254.169.254"]
    for url in ("http://meta.test/latest/meta-data/", "http://169.254.169.254/latest/meta-data/"):
        with pytest.raises(OutboundRefused):
            post_json(url, {})


def test_the_test_allowlist_is_empty_by_default_and_fails_the_deploy_check(settings):
    from config import settings as production_settings

    assert production_settings.ONDO_OUTBOUND_ALLOWED_TEST_HOSTS == []
    assert production_settings.ONDO_OUTBOUND_ALLOW_HTTP is False
    assert outbound.check_outbound_settings() == []
    settings.ONDO_OUTBOUND_ALLOWED_TEST_HOSTS = ["127.0.0.1:8000"]
    settings.ONDO_OUTBOUND_ALLOW_HTTP = True
    assert [problem.id for problem in outbound.check_outbound_settings()] == ["ondo.E101", "ondo.W101"]


def _certificate_for(name: str):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return cert_pem, key_pem


@pytest.fixture
def tls_server(tmp_path):
    cert_pem, key_pem = _certificate_for("hook.test")
    (tmp_path / "cert.pem").write_bytes(cert_pem)
    (tmp_path / "key.pem").write_bytes(key_pem)
    server_tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_tls.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    with local_server(tls=server_tls) as (recorder, port):
        yield recorder, port, cert_pem.decode()


def test_https_sends_the_name_as_sni_and_verifies_the_certificate_against_it(
    settings, fake_dns, monkeypatch, tls_server
):
    recorder, port, ca = tls_server
    settings.ONDO_OUTBOUND_ALLOWED_TEST_HOSTS = [f"hook.test:{port}", f"other.test:{port}"]
    fake_dns["hook.test"] = fake_dns["other.test"] = ["127.0.0.1"]
    real_context = outbound.tls_context

    def trusting_the_test_ca():
        context = real_context()
        context.load_verify_locations(cadata=ca)
        return context

    monkeypatch.setattr(outbound, "tls_context", trusting_the_test_ca)
    assert post_json(f"https://hook.test:{port}/in", {"ok": True}).status == 200
    assert recorder.server_names == ["hook.test"]
    assert recorder.requests[0]["headers"]["Host"] == f"hook.test:{port}"
    # The same server under another name: the certificate does not match, nothing is sent.
    with pytest.raises(OutboundFailed) as failed:
        post_json(f"https://other.test:{port}/in", {"ok": True})
    assert str(failed.value) == "connection failed"
    assert len(recorder.requests) == 1


def test_https_refuses_an_untrusted_certificate(settings, fake_dns, tls_server):
    recorder, port, _ca = tls_server
    settings.ONDO_OUTBOUND_ALLOWED_TEST_HOSTS = [f"hook.test:{port}"]
    fake_dns["hook.test"] = ["127.0.0.1"]
    with pytest.raises(OutboundFailed):
        post_json(f"https://hook.test:{port}/in", {})
    assert recorder.requests == []


def test_an_unreachable_first_answer_falls_back_to_the_next_checked_address(settings, fake_dns):
    with local_server() as (recorder, port):
        settings.ONDO_OUTBOUND_ALLOWED_TEST_HOSTS = [f"dual.test:{port}"]
        # ::1 first: nothing listens there on this port, 127.0.0.1 answers; both were checked.
        fake_dns["dual.test"] = ["::1", "127.0.0.1"]
        assert post_json(f"http://dual.test:{port}/", {}).status == 200
    assert len(recorder.requests) == 1


def test_port_zero_is_not_a_webhook_port(fake_dns):
    fake_dns["hooks.example.com"] = ["93.184.215.14"]
    with pytest.raises(ValidationError):
        validate_outbound_url("https://hooks.example.com:0/")
