"""API routes of reference sets (included by curation/api_urls.py, names in the "api" namespace)."""

from django.urls import path

from curation import reference_api

PROJECT = "projects/<slug:slug>/"

urlpatterns = [
    path(
        PROJECT + "reference-sets/",
        reference_api.ReferenceSetListCreateApi.as_view(),
        name="reference-set-list",
    ),
    path(
        PROJECT + "reference-sets/<int:set_id>/",
        reference_api.ReferenceSetDetailApi.as_view(),
        name="reference-set-detail",
    ),
]
