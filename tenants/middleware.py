"""Request-level tenancy, language and database-failure handling."""

from __future__ import annotations

import logging
import re
import sys

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.core.signals import got_request_exception
from django.db import InterfaceError, OperationalError
from django.dispatch import receiver
from django.http import Http404, HttpResponse, JsonResponse
from django.utils import translation
from django.utils.html import escape

from .context import platform_scope, tenant_scope
from .models import Membership

logger = logging.getLogger("ondo.tenancy")

TENANT_PATH = re.compile(r"^/t/(?P<slug>[a-z0-9-]+)/")


class TenantMiddleware:
    """Resolves `/t/<slug>/...` to a tenant the user belongs to and runs the
    rest of the request inside `tenant_scope()`. A tenant the user is not a
    member of answers 404, exactly like one that does not exist."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.tenant = None
        request.membership = None
        match = TENANT_PATH.match(request.path_info)
        if not match:
            if _is_operator_admin(request):
                # Operators' Django admin crosses tenants: one transaction with the explicit,
                # logged row-level-security bypass (the admin's querysets are evaluated lazily).
                with platform_scope(f"django admin: {request.user.email} {request.method} {request.path_info}"):
                    return self.get_response(request)
            return self.get_response(request)
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path(), settings.LOGIN_URL)
        membership = (
            Membership.objects.select_related("tenant")
            .filter(user=request.user, tenant__slug=match["slug"], tenant__is_active=True)
            .first()
        )
        if membership is None:
            raise Http404("No such tenant.")
        request.tenant = membership.tenant
        request.membership = membership
        request.session["last_tenant_slug"] = membership.tenant.slug
        with tenant_scope(membership.tenant_id):
            from . import services

            token = services._export_recorded.set(False)
            try:
                response = self.get_response(request)
                services.audit_download(request, response)
            finally:
                services._export_recorded.reset(token)
            return response


def _is_operator_admin(request) -> bool:
    global _ADMIN_PREFIX
    if _ADMIN_PREFIX is None:
        from django.urls import NoReverseMatch, reverse

        try:
            _ADMIN_PREFIX = reverse("admin:index")
        except NoReverseMatch:
            _ADMIN_PREFIX = ""
    return (
        bool(_ADMIN_PREFIX)
        and request.path_info.startswith(_ADMIN_PREFIX)
        and (request.user.is_authenticated and request.user.is_staff)
    )


_ADMIN_PREFIX: str | None = None


class MalformedInputMiddleware:
    """Text that is not UTF-8 (broken bytes, Shift_JIS where UTF-8 is expected) in a form or JSON
    body or in the query string answers 400 with a clear message before any view runs, instead of
    being stored as replacement characters. File uploads (multipart: e.g. a Shift_JIS CSV import)
    and compressed bodies are left to their views. Oversized bodies are refused by Django itself
    (DATA_UPLOAD_MAX_MEMORY_SIZE: 400)."""

    TEXT_TYPES = ("application/x-www-form-urlencoded", "application/json", "text/plain")

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not self._is_utf8(request):
            from django.utils.translation import gettext as _

            message = _("The request is not valid UTF-8 text. Send the data encoded as UTF-8; nothing was changed.")
            if request.path_info.startswith(("/api/", "/v1/")) or request.content_type == "application/json":
                return JsonResponse({"detail": message}, status=400)
            return HttpResponse(escape(message), status=400, content_type="text/plain; charset=utf-8")
        return self.get_response(request)

    def _is_utf8(self, request) -> bool:
        raw_query = request.META.get("QUERY_STRING", "")
        if raw_query and not _percent_decoded_utf8(raw_query.encode("latin-1", "replace")):
            return False
        if request.method not in ("POST", "PUT", "PATCH", "DELETE") or request.content_type not in self.TEXT_TYPES:
            return True
        if request.headers.get("Content-Encoding", "identity").lower() not in ("", "identity"):
            return True
        body = request.body  # RequestDataTooBig (over DATA_UPLOAD_MAX_MEMORY_SIZE) answers 400
        if request.content_type == "application/x-www-form-urlencoded":
            return _percent_decoded_utf8(body)
        try:
            body.decode("utf-8")
        except UnicodeDecodeError:
            return False
        return True


def _percent_decoded_utf8(raw: bytes) -> bool:
    from urllib.parse import unquote_to_bytes

    try:
        for part in raw.replace(b"+", b" ").split(b"&"):
            unquote_to_bytes(part).decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


class UserLanguageMiddleware:
    """A logged-in user's saved language wins over browser headers."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and user.language:
            translation.activate(user.language)
            request.LANGUAGE_CODE = user.language
        return self.get_response(request)


class DatabaseUnavailableMiddleware:
    """A database outage answers a clear 503 (page or JSON), never a stack trace.

    Placed near the top of MIDDLEWARE: a database error raised by an inner middleware (session,
    user, tenant lookup) is turned into a 500 by Django before it reaches us, so the error is
    noted on the request by a `got_request_exception` receiver and the 500 replaced here."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        error = getattr(request, "_ondo_database_error", None)
        if error is not None and response.status_code == 500:
            return self._unavailable(request, error)
        return response

    def process_exception(self, request, exception):
        if not isinstance(exception, DATABASE_ERRORS):
            return None
        return self._unavailable(request, exception)

    def _unavailable(self, request, exception):
        logger.error("database unavailable: %s", exception)
        from django.template.loader import render_to_string
        from django.utils.translation import gettext as _

        message = _("The database is temporarily unavailable. Nothing was changed; please try again shortly.")
        wants_json = request.path_info.startswith(("/api/", "/v1/")) or "application/json" in request.headers.get(
            "Accept", ""
        )
        if wants_json:
            response = JsonResponse({"detail": message}, status=503)
        else:
            try:  # no request in the context: context processors would query the database again
                body = render_to_string("503.html", {"message": message})
            except Exception:  # the page must come out even if a template needs more than we have
                logger.exception("503 page could not be rendered")
                body = f"<!DOCTYPE html><title>503</title><p>{escape(message)}</p>"
            response = HttpResponse(body, status=503)
        response["Retry-After"] = "30"
        return response


DATABASE_ERRORS = (OperationalError, InterfaceError)


@receiver(got_request_exception, dispatch_uid="ondo_note_database_error")
def _note_database_error(sender, request=None, **kwargs):
    error = sys.exc_info()[1]
    if request is not None and isinstance(error, DATABASE_ERRORS):
        request._ondo_database_error = error


class NoStoreMiddleware:
    """Tenant pages and API answers carry personal data (leads' names, e-mails, scores): no browser,
    proxy or CDN may keep a copy (#19 Low). `Cache-Control: no-store` (with Django's never-cache set)
    on every response under `/t/<slug>/` and `/api/`, whatever the view set; static files, public
    pages, public forms and the ingest endpoints keep their own caching."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        path = request.path_info
        if path.startswith("/api/") or TENANT_PATH.match(path):
            from django.utils.cache import add_never_cache_headers

            if "Cache-Control" in response:
                del response["Cache-Control"]  # a view's "public, max-age" must not survive
            add_never_cache_headers(response)
        return response
