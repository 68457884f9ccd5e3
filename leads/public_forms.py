"""The public inquiry-form endpoint: POST /f/<tenant-slug>/<form-key>/.

Website forms post here cross-origin, so there is no CSRF cookie: instead each form carries the
form's token (hidden field `ondo_token`, rotatable), a honeypot field (`website`, hidden by CSS:
bots fill it, people do not) and a rate limit per client address. A submission creates or
updates the lead (existing attributes are only filled in, never overwritten by an anonymous
visitor) and records a `form_submit` activity.
"""

from __future__ import annotations

import json
import logging

from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import HttpResponseRedirect, JsonResponse
from django.utils import timezone
from django.utils.crypto import constant_time_compare
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt

from tenants import ratelimit
from tenants.clientip import client_ip
from tenants.context import tenant_scope
from tenants.models import Tenant

from . import selectors, services
from .defaults import FORM_HONEYPOT_FIELD, FORM_TOKEN_FIELD
from .ingest import ActivityIn, ingest_activities
from .models import ActivityTypes, FormEndpoint
from .validation import LeadFieldContext, clean_lead_fields, storable_text, unstorable

logger = logging.getLogger("ondo.leads.forms")

MAX_FIELD_LENGTH = 5000


def _cors(response):
    response["Access-Control-Allow-Origin"] = "*"
    response["Access-Control-Allow-Methods"] = "POST, OPTIONS"
    response["Access-Control-Allow-Headers"] = "Content-Type"
    return response


def _json(data: dict, status: int = 200):
    try:
        response = JsonResponse(data, status=status, json_dumps_params={"ensure_ascii": False})
    except UnicodeEncodeError:  # a lone surrogate in an echoed field name: escaped, the JSON stays valid
        response = JsonResponse(data, status=status)
    return _cors(response)


def _client_ip(request) -> str:
    return client_ip(request) or "unknown"


def _rate_limited(tenant_id: int, key: str, ip: str) -> int | None:
    """Seconds to wait when this address sent too many submissions this minute, else None."""
    per_minute = int(getattr(settings, "ONDO_FORM_RATE_PER_MINUTE", 10))
    decision = ratelimit.hit(f"form:{tenant_id}:{key}:{ip}", limit=per_minute, period=60)
    return None if decision.allowed else decision.retry_after


def _submitted_data(request) -> dict | None:
    """The submitted fields; None when a JSON body cannot be read."""
    if request.content_type == "application/json":
        try:
            body = json.loads(request.body or b"{}")
        except (ValueError, RecursionError):  # not JSON (NaN included: not JSON either), or absurdly deep
            return None
        return {str(k): v for k, v in body.items()} if isinstance(body, dict) else {}
    return {key: request.POST.get(key, "") for key in request.POST}


def _wants_json(request) -> bool:
    return request.content_type == "application/json" or "application/json" in request.headers.get("Accept", "")


@csrf_exempt
def submit(request, tenant_slug: str, form_key: str):
    if request.method == "OPTIONS":
        return _cors(JsonResponse({}, status=200))
    if request.method != "POST":
        response = _json({"errors": {"__all__": [_("Send the form with POST.")]}}, status=405)
        response["Allow"] = "POST, OPTIONS"
        return response
    tenant = Tenant.objects.filter(slug=tenant_slug, is_active=True).first()
    not_found = _json({"errors": {"__all__": [_("This form does not exist.")]}}, status=404)
    if tenant is None:
        return not_found
    wait = _rate_limited(tenant.id, form_key, _client_ip(request))
    if wait is not None:
        response = _json(
            {"errors": {"__all__": [_("Too many submissions. Please try again in a minute.")]}}, status=429
        )
        response["Retry-After"] = str(wait)
        return response
    data = _submitted_data(request)
    if data is None:
        return _json({"errors": {"__all__": [_("The form data is not valid JSON.")]}}, status=400)
    with tenant_scope(tenant.id):
        form = FormEndpoint.objects.filter(key=form_key, is_active=True).first()
        if form is None:
            return not_found
        if not constant_time_compare(str(data.get(FORM_TOKEN_FIELD, "")), form.token):
            return _json(
                {"errors": {"__all__": [_("This form is out of date. Reload the page and try again.")]}}, status=403
            )
        if str(data.get(FORM_HONEYPOT_FIELD, "")).strip():
            logger.info("form %s/%s: honeypot filled, submission dropped", tenant_slug, form_key)
            return _success(request, form)  # look like success: a bot learns nothing
        return _store(request, form, data)


def _success(request, form: FormEndpoint):
    if form.redirect_url and not _wants_json(request):
        return _cors(HttpResponseRedirect(form.redirect_url, status=303))
    return _json({"ok": True, "message": _("Thank you. We received your inquiry.")})


def _store(request, form: FormEndpoint, data: dict):
    field_map = form.field_map or {}
    raw: dict = {}
    extra: dict = {}
    # Values that cannot be stored (NUL, lone surrogates, absurd nesting) are refused with the field's name.
    errors: dict[str, list[str]] = {}
    for name, value in data.items():
        if name in (FORM_TOKEN_FIELD, FORM_HONEYPOT_FIELD):
            continue
        if problem := unstorable(name) or unstorable(value):
            errors[name] = [problem]
            continue
        value = str(value)[:MAX_FIELD_LENGTH]
        target = field_map.get(name)
        if target:
            raw[target] = value
        else:
            extra[name[:60]] = value
    context = LeadFieldContext.load()
    try:
        cleaned = clean_lead_fields(raw, context=context, partial=True)
        if not cleaned.get("email") and not errors:
            raise ValidationError({"email": [_("Enter an email address.")]})
    except ValidationError as error:
        field_names = {target: name for name, target in field_map.items()}
        errors = {**{field_names.get(key, key): messages for key, messages in error.message_dict.items()}, **errors}
    if errors:
        return _json({"errors": errors}, status=400)

    lead = selectors.lead_by_email(cleaned["email"])
    if lead is None:
        data_new = dict(raw)
        if form.channel and "channel" not in data_new:
            data_new["channel"] = form.channel
        if form.campaign and "campaign" not in data_new:
            data_new["campaign"] = form.campaign
        lead = services.lead_create(data=data_new, context=context)
    else:
        # An anonymous visitor may add what is missing, never overwrite what sales already know.
        fill = {
            key: value
            for key, value in raw.items()
            if key != "email" and getattr(lead, "owner_id" if key == "owner" else key, None) in ("", None)
        }
        if fill:
            lead = services.lead_update(lead=lead, data=fill, context=context)
    ingest_activities(
        [
            ActivityIn(
                index=0,
                type=ActivityTypes.FORM_SUBMIT,
                occurred_at=timezone.now(),
                lead_id=lead.pk,
                url=storable_text(request.headers.get("Referer", ""))[:1000],
                campaign=form.campaign,
                properties={"form": form.key, "form_name": form.name, "fields": extra},
                source="form",
            )
        ],
        reason="form_submitted",
    )
    return _success(request, form)
