"""The one way Ondo makes an outbound HTTP request to a URL a tenant chose (webhooks).

A tenant's URL must never reach inside our network (SSRF). Two checks, one policy:

- at save time, `validate_outbound_url(url)` (forms, admin, serializers) refuses with a translated
  message a URL that is not https (in production), carries credentials, or whose host does not
  resolve or resolves to any address that is not a public unicast internet address;
- at delivery, `post_json(url, payload)` resolves the name again, refuses the same addresses, then
  connects to exactly the address it checked (a DNS answer that changes between the check and the
  connection, "DNS rebinding", cannot move the request), sending the original Host header and TLS SNI
  (the certificate is verified against the name), and follows no redirect (a 3xx is a failed delivery).

Failures carry generic reasons only (`refused by policy`, `connection failed`, `HTTP <status>`): a
delivery status never tells a tenant whether some internal port answers.

http:// is allowed only with DEBUG or ONDO_OUTBOUND_ALLOW_HTTP. Tests reach a local server through
ONDO_OUTBOUND_ALLOWED_TEST_HOSTS ("host:port" entries): empty in settings.py, never read from the
environment, and `check --deploy` fails when it is not empty.
"""

from __future__ import annotations

import http.client
import ipaddress
import json
import socket
import ssl
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

DEFAULT_TIMEOUT_SECONDS = 10
USER_AGENT = "Ondo-Webhook/1"
# Only the status matters; a receiver answering with a huge body must not hold the worker.
MAX_RESPONSE_BYTES = 64 * 1024

# Forms that carry or tunnel another address (the embedded IPv4 is what would be reached).
_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))
_CGNAT = ipaddress.ip_network("100.64.0.0/10")

REFUSED = "refused by policy"
CONNECTION_FAILED = "connection failed"


class OutboundRefused(Exception):
    """The destination is not allowed: never retry, never say why beyond the policy."""

    def __init__(self, reason: str = REFUSED):
        super().__init__(reason)


class OutboundFailed(Exception):
    """The request was allowed but did not get a 2xx answer (network failure, HTTP error, redirect)."""


@dataclass(frozen=True)
class OutboundResponse:
    status: int


@dataclass(frozen=True)
class _Target:
    scheme: str
    host: str
    port: int
    path: str
    addresses: tuple[str, ...]


def address_refusal(address: str) -> str | None:
    """Why this IP address may not be contacted, or None for a public unicast address."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 zone (fe80::1%eth0)
    except ValueError:
        return "not an IP address"
    if ip.version == 6:
        if ip.ipv4_mapped is not None:
            return "IPv4-mapped IPv6"
        if ip.sixtofour is not None:
            return "6to4"
        if ip.teredo is not None:
            return "Teredo"
        if any(ip in network for network in _NAT64):
            return "NAT64"
        if ip.is_site_local:
            return "site-local"
    elif ip in _CGNAT:
        return "shared address space (CGNAT)"
    for attribute in ("is_unspecified", "is_loopback", "is_link_local", "is_multicast", "is_private", "is_reserved"):
        if getattr(ip, attribute):
            return attribute.removeprefix("is_").replace("_", "-")
    if not ip.is_global:
        return "not global"
    return None


def resolve(host: str, port: int) -> list[str]:
    """Every address the name resolves to (tests replace this to simulate DNS answers)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    return list(dict.fromkeys(info[4][0] for info in infos))


def _test_allowed(host: str, port: int) -> bool:
    allowed = getattr(settings, "ONDO_OUTBOUND_ALLOWED_TEST_HOSTS", ())
    return f"{host}:{port}" in allowed


def _http_allowed() -> bool:
    return bool(settings.DEBUG or getattr(settings, "ONDO_OUTBOUND_ALLOW_HTTP", False))


class _BadURL(Exception):
    def __init__(self, code: str):
        super().__init__(code)
        self.code = code


def _target(url: str) -> _Target:
    """Parse, apply the scheme rule, resolve and check every address. Raises _BadURL(code)."""
    if not isinstance(url, str) or not url or len(url) > 2000 or any(c in url for c in "\r\n\t\x00 "):
        raise _BadURL("invalid")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise _BadURL("invalid") from None
    scheme = parts.scheme.lower()
    try:
        host = (parts.hostname or "").rstrip(".").encode("idna").decode("ascii")
    except UnicodeError:
        raise _BadURL("invalid") from None
    if scheme not in ("http", "https") or not host:
        raise _BadURL("invalid")
    if parts.username is not None or parts.password is not None:
        raise _BadURL("credentials")
    if port == 0:
        raise _BadURL("invalid")
    port = port or (443 if scheme == "https" else 80)
    test_host = _test_allowed(host, port)
    if scheme == "http" and not (_http_allowed() or test_host):
        raise _BadURL("scheme")
    try:
        addresses = resolve(host, port)
    except (OSError, UnicodeError):
        raise _BadURL("unresolved") from None
    if not addresses:
        raise _BadURL("unresolved")
    if test_host:
        # The test allowlist opens a local test server, nothing else.
        if not all(ipaddress.ip_address(address.split("%", 1)[0]).is_loopback for address in addresses):
            raise _BadURL("address")
    elif any(address_refusal(address) for address in addresses):
        # One bad answer refuses the name: a mixed answer is how rebinding attacks start.
        raise _BadURL("address")
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return _Target(scheme=scheme, host=host, port=port, path=path, addresses=tuple(addresses))


_MESSAGES = {
    "invalid": _("Enter a valid URL starting with https://."),
    "scheme": _("The webhook URL must start with https://."),
    "credentials": _("The webhook URL must not contain a user name or password."),
    # One message for "does not resolve" and "resolves inside": no oracle for internal names.
    "unresolved": _(
        "The webhook URL must point to a public internet host: its name could not be resolved, or it is a "
        "private, loopback, link-local or otherwise reserved address."
    ),
}
_MESSAGES["address"] = _MESSAGES["unresolved"]


def validate_outbound_url(url: str) -> None:
    """Save-time check for any field holding a URL Ondo will call (a Django validator)."""
    if not url:
        return
    try:
        _target(url)
    except _BadURL as error:
        raise ValidationError(_MESSAGES[error.code], code=f"outbound_{error.code}") from None


def tls_context() -> ssl.SSLContext:
    """The system's trust store with hostname checking (tests trust their own CA here)."""
    return ssl.create_default_context()


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """Connects to the checked addresses only (in resolver order, the first that answers); `host`
    (Host header) stays the URL's name."""

    def __init__(self, host: str, port: int, *, addresses: tuple[str, ...], timeout: float):
        super().__init__(host, port, timeout=timeout)
        self._addresses = addresses

    def connect(self) -> None:
        error: OSError | None = None
        for address in self._addresses:
            try:
                self.sock = socket.create_connection((address, self.port), self.timeout)
            except OSError as failure:  # e.g. an IPv6 answer on a host without IPv6 routing
                error = failure
                continue
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            return
        raise error or OSError("no address")


class _PinnedHTTPSConnection(_PinnedHTTPConnection):
    default_port = http.client.HTTPS_PORT

    def __init__(self, host: str, port: int, *, addresses: tuple[str, ...], timeout: float):
        super().__init__(host, port, addresses=addresses, timeout=timeout)
        self._tls = tls_context()

    def connect(self) -> None:
        super().connect()
        # SNI and certificate verification against the URL's name, not the pinned address.
        self.sock = self._tls.wrap_socket(self.sock, server_hostname=self.host)


def post_json(
    url: str, payload: dict | bytes, *, headers: dict | None = None, timeout: float = DEFAULT_TIMEOUT_SECONDS
) -> OutboundResponse:
    """POST JSON to a tenant-chosen URL under the outbound policy.

    Returns the 2xx response; raises OutboundRefused (destination not allowed: do not retry) or
    OutboundFailed (network failure, non-2xx status, or a redirect, which is never followed)."""
    try:
        target = _target(url)
    except _BadURL as error:
        if error.code == "unresolved":
            # Possibly a passing DNS failure: retryable, and worded like any network failure.
            raise OutboundFailed(CONNECTION_FAILED) from None
        raise OutboundRefused() from None
    body = payload if isinstance(payload, bytes) else json.dumps(payload, ensure_ascii=False).encode()
    connection_class = _PinnedHTTPSConnection if target.scheme == "https" else _PinnedHTTPConnection
    connection = connection_class(target.host, target.port, addresses=target.addresses, timeout=timeout)
    request_headers = {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": USER_AGENT,
        "Content-Length": str(len(body)),
        **(headers or {}),
    }
    try:
        connection.request("POST", target.path, body=body, headers=request_headers)
        response = connection.getresponse()
        response.read(MAX_RESPONSE_BYTES)
        status = response.status
    except (OSError, http.client.HTTPException, ssl.SSLError):
        # No errno, no "connection refused" vs "timed out": nothing about the far side's ports.
        raise OutboundFailed(CONNECTION_FAILED) from None
    finally:
        connection.close()
    if 300 <= status < 400:
        raise OutboundFailed(f"HTTP {status} (redirects are not followed)")
    if not 200 <= status < 300:
        raise OutboundFailed(f"HTTP {status}")
    return OutboundResponse(status=status)


def check_outbound_settings(app_configs=None, **kwargs) -> list:
    """`check --deploy`: the test allowlist must be empty, http must not be allowed, in production."""
    from django.core import checks

    problems = []
    if getattr(settings, "ONDO_OUTBOUND_ALLOWED_TEST_HOSTS", ()):
        problems.append(
            checks.Error(
                "ONDO_OUTBOUND_ALLOWED_TEST_HOSTS is a test-only setting and must be empty in production.",
                id="ondo.E101",
            )
        )
    if getattr(settings, "ONDO_OUTBOUND_ALLOW_HTTP", False) and not settings.DEBUG:
        problems.append(
            checks.Warning(
                "ONDO_OUTBOUND_ALLOW_HTTP is on: webhooks may be sent unencrypted.",
                hint="Unset it in production; tenants' webhook URLs should use https://.",
                id="ondo.W101",
            )
        )
    return problems
