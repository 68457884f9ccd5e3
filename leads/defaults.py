"""Built-in defaults a tenant starts from: channels and Segment/RudderStack mappings.

Tenants edit them (settings page); until a tenant edits its channel list it uses these,
and its own mapping rows are laid over the default mappings.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from .models import ActivityTypes

DEFAULT_CHANNELS: list[tuple[str, str]] = [
    ("seo", _("SEO / organic search")),
    ("listing_ads", _("Listing ads")),
    ("webinar", _("Webinar")),
    ("online_conference", _("Online conference")),
    ("email", _("Email marketing")),
    ("sns", _("Social media")),
    ("referral", _("Referral")),
    ("event", _("Event / trade show")),
    ("other", _("Other")),
]

# Lead attributes an identify trait may fill (target keys of trait mappings).
TRAIT_TARGETS = [
    "email",
    "name",
    "first_name",
    "last_name",
    "company",
    "title",
    "department",
    "employee_count",
    "size_band",
    "industry",
    "phone",
    "channel",
    "campaign",
    "authority",
    "need",
    "budget",
    "timing",
    "unsubscribed",
]

# Identify traits (Segment spec names and common variants; compared with normalize_key) → lead field.
DEFAULT_TRAIT_MAP: dict[str, str] = {
    "email": "email",
    "name": "name",
    "first_name": "first_name",
    "firstname": "first_name",
    "last_name": "last_name",
    "lastname": "last_name",
    "company": "company",
    "company_name": "company",
    "title": "title",
    "job_title": "title",
    "department": "department",
    "employees": "employee_count",
    "employee_count": "employee_count",
    "company_size": "size_band",
    "industry": "industry",
    "phone": "phone",
    "channel": "channel",
    "utm_campaign": "campaign",
    "campaign": "campaign",
    "unsubscribed": "unsubscribed",
}

# Track event names (compared with normalize_key) → activity type.
DEFAULT_EVENT_MAP: dict[str, str] = {
    "email_opened": ActivityTypes.EMAIL_OPEN,
    "email_link_clicked": ActivityTypes.EMAIL_CLICK,
    "email_clicked": ActivityTypes.EMAIL_CLICK,
    "file_downloaded": ActivityTypes.DOWNLOAD,
    "document_downloaded": ActivityTypes.DOWNLOAD,
    "whitepaper_downloaded": ActivityTypes.DOWNLOAD,
    "pricing_viewed": ActivityTypes.PRICING_VIEW,
    "form_started": ActivityTypes.FORM_START,
    "form_submitted": ActivityTypes.FORM_SUBMIT,
    "webinar_registered": ActivityTypes.WEBINAR_REGISTER,
    "webinar_attended": ActivityTypes.WEBINAR_ATTEND,
    "survey_answered": ActivityTypes.SURVEY_ANSWER,
    "survey_submitted": ActivityTypes.SURVEY_ANSWER,
    "demo_requested": ActivityTypes.DEMO_REQUEST,
    "meeting_booked": ActivityTypes.MEETING,
    "meeting_scheduled": ActivityTypes.MEETING,
}

# Page URL substrings → activity type (a page call is a page_view unless one matches).
DEFAULT_PAGE_MAP: dict[str, str] = {
    "/pricing": ActivityTypes.PRICING_VIEW,
    "/price": ActivityTypes.PRICING_VIEW,
    "/plans": ActivityTypes.PRICING_VIEW,
    "/料金": ActivityTypes.PRICING_VIEW,
}

# Public form field names (what website forms usually call them) → lead field.
DEFAULT_FORM_FIELDS: dict[str, str] = {
    "email": "email",
    "name": "name",
    "company": "company",
    "title": "title",
    "department": "department",
    "phone": "phone",
    "employees": "employee_count",
    "industry": "industry",
    "message": "need",
}
FORM_HONEYPOT_FIELD = "website"
FORM_TOKEN_FIELD = "ondo_token"  # noqa: S105 - a field name, not a secret  # nosec B105
