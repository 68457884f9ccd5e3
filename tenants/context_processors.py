from django.conf import settings
from django.db import DatabaseError

from .models import Membership
from .roles import capabilities_for


def tenant_frame(request):
    """What the page frame needs: current tenant, role, capabilities, the user's tenants."""
    tenant = getattr(request, "tenant", None)
    user = getattr(request, "user", None)
    context = {"tenant": tenant, "membership": getattr(request, "membership", None), "LANGUAGES": settings.LANGUAGES}
    try:
        if user is not None and user.is_authenticated:
            context["my_memberships"] = list(
                Membership.objects.filter(user=user, tenant__is_active=True)
                .select_related("tenant")
                .order_by("tenant__name")
            )
            context["can"] = capabilities_for(user, tenant) if tenant else {}
    except DatabaseError:
        # The 503 page must still render while the database is down.
        context["my_memberships"], context["can"] = [], {}
    return context
