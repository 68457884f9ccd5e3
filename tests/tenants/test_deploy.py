import os
import subprocess
import sys

import pytest
from django.conf import settings
from django.db import connection


def test_production_settings_pass_check_deploy_without_warnings(db):
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DEBUG": "0",
        "SECRET_KEY": "prod-like-" + "k3y-Zx9!" * 8,
        "ALLOWED_HOSTS": "ondo.example.jp",
        # The schema check connects (the OpenAPI generation enters a platform scope): use the test run's database
        # (the db fixture), which exists on any machine the suite runs on.
        "DATABASE_URL": "postgres://{USER}@{HOST}:{PORT}/{NAME}".format(**connection.settings_dict),
        "REDIS_URL": "redis://127.0.0.1:6379/15",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def _serving_env(database_url: str, **extra) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DEBUG": "0",
        "SECRET_KEY": "prod-like-" + "k3y-Zx9!" * 8,
        "ALLOWED_HOSTS": "ondo.example.jp",
        "DATABASE_URL": database_url,
        "REDIS_URL": "redis://127.0.0.1:6379/15",
        **extra,
    }


def _start_web_process(env: dict[str, str]) -> subprocess.CompletedProcess:
    """What gunicorn does first: import the WSGI application."""
    return subprocess.run(
        [sys.executable, "-c", "import config.wsgi"], cwd=settings.BASE_DIR, env=env, capture_output=True, text=True
    )


def _test_database_url(user: str) -> str:
    return "postgres://{user}@{HOST}:{PORT}/{NAME}".format(user=user, **connection.settings_dict)


class TestServingProcessesRefusePrivilegedRoles:
    """Production must not run as a role row-level security does not bind (#19 Low)."""

    def test_the_web_process_refuses_to_start_as_the_superuser(self, db):
        result = _start_web_process(_serving_env(_test_database_url(connection.settings_dict["USER"])))
        assert result.returncode != 0
        assert "Refusing to start" in result.stderr and "superuser" in result.stderr

    def test_an_explicit_setting_lets_a_deliberate_superuser_start(self, db):
        env = _serving_env(_test_database_url(connection.settings_dict["USER"]), ONDO_ALLOW_PRIVILEGED_DB_ROLE="1")
        result = _start_web_process(env)
        assert result.returncode == 0, result.stderr

    def test_the_web_process_starts_as_the_app_role(self, db):
        from tenants.rls import app_role

        result = _start_web_process(_serving_env(_test_database_url(app_role())))
        assert result.returncode == 0, result.stderr

    def test_the_worker_refuses_to_start_as_the_superuser(self, db, settings):
        from django.core.exceptions import ImproperlyConfigured

        from config.celery import _refuse_privileged_role

        settings.DEBUG = False
        settings.ONDO_ALLOW_PRIVILEGED_DB_ROLE = False
        with pytest.raises(ImproperlyConfigured, match="superuser"):
            _refuse_privileged_role()

    def test_check_database_fails_as_the_superuser_with_debug_off(self, db):
        result = subprocess.run(
            [sys.executable, "manage.py", "check", "--database", "default"],
            cwd=settings.BASE_DIR,
            env=_serving_env(_test_database_url(connection.settings_dict["USER"])),
            capture_output=True,
            text=True,
        )
        assert result.returncode != 0
        assert "tenants.E102" in result.stdout + result.stderr
