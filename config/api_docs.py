"""The API documentation page (Swagger UI from drf-spectacular's sidecar: local files only).

Swagger UI sets inline style attributes at run time, so this page allows inline styles; scripts stay
same-origin only (its init script is fetched from the split view's own URL). Redoc is not offered: it
always loads its logo from a CDN, which the CSP (rightly) blocks; /api/redoc/ leads to these docs.
"""

from django.conf import settings
from django.utils.csp import CSP
from django.utils.decorators import method_decorator
from django.views.decorators.csp import csp_override
from drf_spectacular.views import SpectacularSwaggerSplitView

DOCS_CSP = {
    **settings.SECURE_CSP,
    "script-src": [CSP.SELF],
    "style-src": [CSP.SELF, CSP.UNSAFE_INLINE],
}


@method_decorator(csp_override(DOCS_CSP), name="dispatch")
class SwaggerDocsView(SpectacularSwaggerSplitView):
    pass
