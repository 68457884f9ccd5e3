"""Numbers and ids typed by hand into a query string or a form post: one parser for every view.

`str.isdigit()` is true for "²" and "١٢" and `int()` accepts Arabic-Indic digits, so neither is a
check for "a number a person meant": only ASCII digits are. An id beyond bigint would overflow in
PostgreSQL. A bad value gives None (the view's default) or, with `require_*`, a `BadParameter` — a
ValidationError with a translated message the view answers as 400.
"""

from __future__ import annotations

import datetime as dt
import re

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

_ASCII_INTEGER = re.compile(r"-?[0-9]{1,19}")
MAX_ID = 2**63 - 1  # PostgreSQL bigint


class BadParameter(ValidationError):
    """A query or form parameter that is not what the page asks for (answered with 400)."""


def parse_int(value: object, *, minimum: int | None = None, maximum: int | None = None) -> int | None:
    """The integer written in ASCII digits (an optional leading minus) within [minimum, maximum], else None.

    Anything else — "", None, "²", "١٢", "1.5", " 1", "0x10", a list — is None, never an exception."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and _ASCII_INTEGER.fullmatch(value):
        number = int(value)
    else:
        return None
    if minimum is not None and number < minimum:
        return None
    if maximum is not None and number > maximum:
        return None
    return number


def parse_id(value: object) -> int | None:
    """A primary key (1..bigint max) or None."""
    return parse_int(value, minimum=1, maximum=MAX_ID)


def require_id(value: object, *, message=None) -> int:
    """A primary key, or BadParameter with `message` (default: "This is not a valid id.")."""
    number = parse_id(value)
    if number is None:
        raise BadParameter(message or _("This is not a valid id."), code="invalid")
    return number


# The dates a person may pick in a form or a query (reports, periods, plans): far enough for any
# plan, clear of the calendar's edges, where a year-1 or year-9999 date overflows once it becomes a
# time span in the tenant's time zone.
EARLIEST_DATE = dt.date(2000, 1, 1)
LATEST_DATE = dt.date(2100, 12, 31)


def date_in_range(day: dt.date) -> bool:
    return EARLIEST_DATE <= day <= LATEST_DATE


def safe_next_url(request, candidate: str | None, *, default: str) -> str:
    """`candidate` if it is a path on this site, else `default`: a `next` taken from the request is
    never a way off the site (//host, https://host, /\\host, javascript:)."""
    from django.utils.http import url_has_allowed_host_and_scheme

    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return default
