"""API routes of distributions (included by curation/api_urls.py, names in the "api" namespace)."""

from django.urls import path

from curation import distribution_api

PROJECT = "projects/<slug:slug>/"

urlpatterns = [
    path(
        PROJECT + "distribution/",
        distribution_api.DistributionApi.as_view(),
        name="distribution",
    ),
    path(
        PROJECT + "distribution/compare/",
        distribution_api.DistributionCompareApi.as_view(),
        name="distribution-compare",
    ),
    path(
        PROJECT + "distribution-references/",
        distribution_api.DistributionReferenceListApi.as_view(),
        name="distribution-reference-list",
    ),
    path(
        PROJECT + "distribution-references/<int:reference_id>/",
        distribution_api.DistributionReferenceDetailApi.as_view(),
        name="distribution-reference-detail",
    ),
]
