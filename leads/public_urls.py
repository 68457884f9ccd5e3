"""Root-level ingestion endpoints (mounted at / in config/urls.py): the Segment-compatible API that
the client libraries call as <host>/v1/batch, and the public inquiry-form endpoint."""

from django.urls import path

from . import public_forms, segment_compat

urlpatterns = [
    path("v1/batch", segment_compat.batch, name="segment_batch"),
    path("v1/identify", segment_compat.single("identify"), name="segment_identify"),
    path("v1/track", segment_compat.single("track"), name="segment_track"),
    path("v1/page", segment_compat.single("page"), name="segment_page"),
    path("v1/screen", segment_compat.single("screen"), name="segment_screen"),
    path("v1/alias", segment_compat.single("alias"), name="segment_alias"),
    path("v1/group", segment_compat.single("group"), name="segment_group"),
    path("f/<slug:tenant_slug>/<slug:form_key>/", public_forms.submit, name="public_form"),
]
