"""The client's address, for rate limits, login lockout, audit and the public forms.

Behind the reverse proxies of docs/deploy.md every request comes from the nearest proxy, so REMOTE_ADDR would make
every per-address limit a global one. Each trusted proxy appends the address it received the request from to
X-Forwarded-For; with `ONDO_TRUSTED_PROXY_COUNT` = N proxies in front of the app, the client is the N-th entry from
the right. Entries left of it were written by the client and are never trusted.
"""

from __future__ import annotations

import ipaddress

from django.conf import settings


def _valid(address: str) -> str | None:
    try:
        return str(ipaddress.ip_address(address.strip()))
    except ValueError:
        return None


def client_ip(request) -> str | None:
    """The address of the client as the outermost trusted proxy saw it; REMOTE_ADDR with no trusted proxy."""
    if request is None:
        return None
    remote = _valid(request.META.get("REMOTE_ADDR") or "")
    proxies = int(getattr(settings, "ONDO_TRUSTED_PROXY_COUNT", 0) or 0)
    if proxies <= 0:
        return remote
    hops = [hop for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if hop.strip()]
    if len(hops) < proxies:
        return remote  # the request did not come through every trusted proxy
    return _valid(hops[-proxies]) or remote
