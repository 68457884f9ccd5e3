import os
import subprocess
import sys

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
