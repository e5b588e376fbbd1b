"""API routes of splits (included by curation/api_urls.py, names in the "api" namespace)."""

from django.urls import path

from curation import split_api

urlpatterns = [
    path("projects/<slug:slug>/splits/", split_api.SplitApi.as_view(), name="splits"),
    path(
        "projects/<slug:slug>/splits/preview/",
        split_api.SplitPreviewApi.as_view(),
        name="split-preview",
    ),
]
