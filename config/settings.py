"""Ondo settings, read from the environment (12-factor).

PostgreSQL only. With no DATABASE_URL the app connects to the quickstart's embedded
PostgreSQL (config/embedded_db.py; `./ondo run` starts it, importing settings never does);
with no REDIS_URL and nothing answering on 127.0.0.1:6379, Celery tasks run in-process.
"""

import os
import socket
from pathlib import Path

import dj_database_url
from django.utils.csp import CSP
from django.utils.translation import gettext_lazy as _

from . import embedded_db

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DEBUG", False)
SECRET_KEY = os.environ.get("SECRET_KEY") or (
    "dev-insecure-ondo-key-only-for-local-runs-0123456789abcdefghijklmnopqrstuvwxyz" if DEBUG else ""
)
if not SECRET_KEY:
    raise RuntimeError("SECRET_KEY must be set when DEBUG is off.")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]" if DEBUG else "")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django.contrib.postgres",
    "rest_framework",
    "rest_framework_api_key",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_filters",
    "django_htmx",
    "rules",
    "axes",
    "allauth",
    "allauth.account",
    "tenants",
    "leads",
    "scoring",
    "mql",
    "kpis",
    "diagnostics",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Sees every final response (503s and CSRF failures included): no-store on tenant pages and /api/.
    "tenants.middleware.NoStoreMiddleware",
    # Outside sessions/auth/tenant lookup: a database outage in any of them answers 503, not 500.
    "tenants.middleware.DatabaseUnavailableMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "tenants.middleware.MalformedInputMiddleware",  # non-UTF-8 form/JSON/query text: 400, nothing stored
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "tenants.middleware.UserLanguageMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "axes.middleware.AxesMiddleware",
    "tenants.middleware.TenantMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.template.context_processors.csp",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "tenants.context_processors.tenant_frame",
            ],
        },
    },
]

# --- Database ---------------------------------------------------------------
DATABASE_URL = os.environ.get("DATABASE_URL") or embedded_db.default_url()
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=int(os.environ.get("DB_CONN_MAX_AGE", "60")))}
if not DATABASES["default"]["ENGINE"].endswith("postgresql"):
    raise RuntimeError("Ondo runs on PostgreSQL only: DATABASE_URL must be a postgres:// URL.")
if os.environ.get("DB_PREPARED_STATEMENTS", "1") != "0":
    # Only statements that ask for it (execute(..., prepare=True): the incremental rescore's score statement)
    # are prepared; never others by repetition, since a generic plan made while a table has no statistics yet
    # (a first import) can be quadratic. Django's own queries bind client-side and are never prepared.
    # Behind PgBouncer < 1.21 (no max_prepared_statements) set DB_PREPARED_STATEMENTS=0.
    DATABASES["default"].setdefault("OPTIONS", {})["prepare_threshold"] = 1_000_000_000
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis, cache and Celery -------------------------------------------------


def _redis_answers(host: str = "127.0.0.1", port: int = 6379) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.3):
            return True
    except OSError:
        return False


REDIS_URL = os.environ.get("REDIS_URL") or ("redis://127.0.0.1:6379/0" if _redis_answers() else "")
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = None
# No broker: run tasks in-process so the quickstart works without Redis.
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", not REDIS_URL)
CELERY_TASK_EAGER_PROPAGATES = True

# --- Auth ---------------------------------------------------------------------
AUTH_USER_MODEL = "tenants.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "rules.permissions.ObjectPermissionBackend",
    "django.contrib.auth.backends.ModelBackend",
    # allauth's backend, but an e-mail login only matches the account that owns the address.
    "tenants.adapters.VerifiedEmailAuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "home"
ACCOUNT_LOGOUT_REDIRECT_URL = "account_login"
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
# E-mail addresses (#19 Medium 5, tenants/accounts.py): an account has one address (its invitation's,
# or one it verified); a new address replaces it only once verified, after a fresh authentication;
# an address another account owns cannot be added, logged in with, confirmed or reset.
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_EMAIL_VERIFICATION = "optional"  # new addresses are verified; login needs an owned address (the backend)
ACCOUNT_CHANGE_EMAIL = True
ACCOUNT_MAX_EMAIL_ADDRESSES = 2  # the current one and the one being verified
ACCOUNT_REAUTHENTICATION_REQUIRED = True
ACCOUNT_LOGIN_BY_CODE_ENABLED = False
ACCOUNT_EMAIL_VERIFICATION_BY_CODE_ENABLED = False
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = False
ACCOUNT_CONFIRM_EMAIL_ON_GET = False
ACCOUNT_FORMS = {
    "add_email": "tenants.adapters.OwnAddressAddEmailForm",
    "reset_password": "tenants.adapters.OwnerOnlyResetPasswordForm",  # nosec B105 - a form class path
}
ACCOUNT_ADAPTER = "tenants.adapters.InviteOnlyAccountAdapter"
ACCOUNT_LOGOUT_ON_GET = False
ACCOUNT_SESSION_REMEMBER = None
ACCOUNT_PASSWORD_RESET_BY_CODE_ENABLED = False
# Rate specifications, not secrets (bandit reads "reset_password" as a password).
ACCOUNT_RATE_LIMITS = {"login_failed": "10/m/ip,5/5m/key", "reset_password": "20/m/ip,5/m/key"}  # nosec B105

AXES_FAILURE_LIMIT = int(os.environ.get("AXES_FAILURE_LIMIT", "8"))
AXES_COOLOFF_TIME = 0.25  # hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_USERNAME_FORM_FIELD = "login"
AXES_USERNAME_CALLABLE = "tenants.security.axes_username"
AXES_CLIENT_IP_CALLABLE = "tenants.clientip.client_ip"
# How many reverse proxies in front of the app append to X-Forwarded-For (tenants/clientip.py); 0: none.
ONDO_TRUSTED_PROXY_COUNT = int(os.environ.get("ONDO_TRUSTED_PROXY_COUNT", "0"))
AXES_LOCKOUT_TEMPLATE = "tenants/locked_out.html"
AXES_RESET_ON_SUCCESS = True

# --- i18n -----------------------------------------------------------------------
LANGUAGE_CODE = "ja"
LANGUAGES = [("ja", _("Japanese")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Tokyo"
USE_I18N = True
USE_TZ = True

# --- Static files ---------------------------------------------------------------
STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
MEDIA_ROOT = BASE_DIR / "var" / "media"
WHITENOISE_USE_FINDERS = DEBUG

# --- Email ------------------------------------------------------------------------
EMAIL_BACKEND = os.environ.get(
    "EMAIL_BACKEND",
    "django.core.mail.backends.console.EmailBackend" if DEBUG else "django.core.mail.backends.smtp.EmailBackend",
)
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "25"))
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "Ondo <no-reply@ondo.example>")
EMAIL_FILE_PATH = BASE_DIR / "var" / "mail"

# --- Security -------------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False  # htmx reads the token from the <body> hx-headers, not the cookie
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if not DEBUG:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "31536000"))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True

# Django 6's built-in CSP: no inline scripts anywhere; htmx gets the nonce.
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF, CSP.NONCE],
    "img-src": [CSP.SELF, "data:"],
    "font-src": [CSP.SELF, "data:"],
    "connect-src": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
    "form-action": [CSP.SELF],
    "base-uri": [CSP.SELF],
    "object-src": [CSP.NONE],
}

# --- REST API -------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "tenants.authentication.TenantAPIKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    # API keys carry scopes (ingest, read, admin): every view checks them, tenant views by their base class too.
    "DEFAULT_PERMISSION_CLASSES": ["tenants.api.HasAPIKeyScope", "rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "tenants.api.StableCursorPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_THROTTLE_CLASSES": ["tenants.api.TenantRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {"tenant": os.environ.get("API_RATE", "1200/min"), "public_form": "20/min"},
    "EXCEPTION_HANDLER": "tenants.api.exception_handler",
    # DRF's JSON classes, hardened: a too-deep body is a 400, an echoed lone surrogate does not break the response.
    "DEFAULT_PARSER_CLASSES": [
        "tenants.jsonio.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_RENDERER_CLASSES": ["tenants.jsonio.JSONRenderer", "rest_framework.renderers.BrowsableAPIRenderer"],
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Ondo API",
    "DESCRIPTION": (
        "Leads, activities, scores and feedback of one tenant. Authenticate with `Authorization: Api-Key <key>`."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "APPEND_COMPONENTS": {
        "securitySchemes": {"ApiKeyAuth": {"type": "apiKey", "in": "header", "name": "Authorization"}}
    },
    "SECURITY": [{"ApiKeyAuth": []}],
    # Schema generation touches tenant-owned managers with no tenant: run it under the platform bypass.
    "DEFAULT_GENERATOR_CLASS": "tenants.schema.TenantSafeSchemaGenerator",
    # One name per choice set used by several fields (lead stage: stage, from_stage, to_stage).
    "ENUM_NAME_OVERRIDES": {"LeadStageEnum": "leads.models.Stage", "PeriodTypeEnum": "kpis.models.PeriodType"},
    # The error responses (400/401/403/404/429) every tenant API operation can give, with their shapes.
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums", "tenants.api.schema_error_responses"],
}

# --- Ondo ---------------------------------------------------------------------------
# Builders of the demo tenant, one per app, called in this order (each app extends the demo).
ONDO_DEMO_BUILDERS = [
    "leads.demo.build_demo",
    "scoring.demo.build_demo",
    "mql.demo.build_demo",
    "kpis.demo.build_demo",
    "diagnostics.demo.build_demo",
]
# Called in the new tenant's scope when a tenant is created (defaults every tenant starts from).
ONDO_TENANT_CREATED_HOOKS = [
    "scoring.services.install_default_model",
    "mql.services.defaults_ensure",
    "kpis.services.tenant_created",
]
# Roles used by PostgreSQL row-level security (see docs/deploy.md). With DEBUG off, `check --database default`
# fails unless the app's role is bound by row-level security.
ONDO_ENFORCE_RLS = env_bool("ONDO_ENFORCE_RLS", not DEBUG)
# With DEBUG off, the web and worker processes refuse to start as a superuser, a BYPASSRLS role or the tables' owner
# (row-level security would not apply to them) unless this says so explicitly.
ONDO_ALLOW_PRIVILEGED_DB_ROLE = env_bool("ONDO_ALLOW_PRIVILEGED_DB_ROLE", False)
# The non-owner role the app connects as; migrate/apply_rls create it if missing and grant it DML
# (tenants/rls.py). Empty: no role management.
ONDO_DB_APP_ROLE = os.environ.get("ONDO_DB_APP_ROLE", "ondo_app")

# Outbound HTTP to tenant-chosen URLs (webhooks, tenants/outbound.py): https only unless DEBUG or this.
ONDO_OUTBOUND_ALLOW_HTTP = env_bool("ONDO_OUTBOUND_ALLOW_HTTP", False)
# Test-only "host:port" entries (loopback only) let tests reach a local server; never read from the
# environment, and `check --deploy` fails when it is not empty.
ONDO_OUTBOUND_ALLOWED_TEST_HOSTS: list[str] = []

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
