"""/api/v1/mql/...: included from config/api_urls.py."""

from django.urls import path

from . import api

urlpatterns = [
    path("mql/definitions/", api.DefinitionList.as_view(), name="api-mql-definitions"),
    path("mql/definitions/active/", api.ActiveDefinition.as_view(), name="api-mql-definition-active"),
    path("mql/reasons/", api.ReasonList.as_view(), name="api-mql-reasons"),
    path("mql/inbox/", api.InboxList.as_view(), name="api-mql-inbox"),
    path("mql/feedback/", api.FeedbackListCreate.as_view(), name="api-mql-feedback"),
]
