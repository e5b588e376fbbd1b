"""Everything under /api/: each app's API routes, plus the OpenAPI schema and its docs."""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

app_name = "api"

urlpatterns = [
    # The labeling calls first: they are most of the API's traffic, and routes are tried in order.
    path("", include("annotation.api_urls")),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api:schema"), name="docs"),
    path("", include("adjudication.api_urls")),
    path("", include("curation.api_urls")),
]
