"""Settings for the test suite: real PostgreSQL and Redis on this machine."""

import os

os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/ondo")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/15")
# pytest-xdist runs the suite in parallel workers (gw0, gw1, ...), each with its own test database (pytest-django
# suffixes it) and its own Redis database, since every test starts by clearing the cache.
_xdist_worker = os.environ.get("PYTEST_XDIST_WORKER", "")
if _xdist_worker.startswith("gw"):
    _base, _, _db = os.environ["REDIS_URL"].rpartition("/")
    os.environ["REDIS_URL"] = f"{_base}/{(int(_db or 0) - int(_xdist_worker[2:])) % 16}"
os.environ.setdefault("SECRET_KEY", "test-only-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz-ABCDEFG")
os.environ.setdefault("ALLOWED_HOSTS", "testserver,localhost,127.0.0.1")
os.environ.setdefault("SECURE_SSL_REDIRECT", "0")
os.environ.setdefault("CELERY_TASK_ALWAYS_EAGER", "1")
# The suite connects as the superuser and switches to the app role where row-level security is the point.
os.environ.setdefault("ONDO_ENFORCE_RLS", "0")
os.environ.setdefault("ONDO_ALLOW_PRIVILEGED_DB_ROLE", "1")

from .settings import *  # noqa: E402,F403

STORAGES["staticfiles"] = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}  # noqa: F405
WHITENOISE_USE_FINDERS = True
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
AXES_FAILURE_LIMIT = 5
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
