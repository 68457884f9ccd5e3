import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
application = get_wsgi_application()

# A serving process bound by no row-level security would see every tenant: refuse to start (tenants/rls.py).
from tenants.rls import refuse_privileged_role  # noqa: E402

refuse_privileged_role()
