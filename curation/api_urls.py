"""Curation's API routes, included under /api/ in the "api" namespace (config/api_urls.py)."""

from django.urls import include, path

from curation import api, quality_api

urlpatterns = [
    path("projects/", api.ProjectListCreateApi.as_view(), name="project-list"),
    path("projects/<slug:slug>/", api.ProjectDetailApi.as_view(), name="project-detail"),
    path(
        "projects/<slug:slug>/members/",
        api.MembershipListCreateApi.as_view(),
        name="member-list",
    ),
    path(
        "projects/<slug:slug>/members/<str:username>/",
        api.MembershipDetailApi.as_view(),
        name="member-detail",
    ),
    path("projects/<slug:slug>/items/", api.ItemListCreateApi.as_view(), name="item-list"),
    path(
        "projects/<slug:slug>/items/<int:item_id>/",
        api.ItemDetailApi.as_view(),
        name="item-detail",
    ),
    path("projects/<slug:slug>/imports/", api.ImportCreateApi.as_view(), name="import-create"),
    path("projects/<slug:slug>/exports/", api.ExportCreateApi.as_view(), name="export-create"),
    path("jobs/<int:job_id>/", api.JobRunDetailApi.as_view(), name="job-detail"),
    path("jobs/<int:job_id>/download/", api.JobRunDownloadApi.as_view(), name="job-download"),
    path("users/", api.UserListCreateApi.as_view(), name="user-list"),
    # Quality jobs and their findings (curation.quality_api).
    path(
        "projects/<slug:slug>/jobs/",
        quality_api.QualityJobCreateApi.as_view(),
        name="job-create",
    ),
    path(
        "projects/<slug:slug>/quality-settings/",
        quality_api.QualitySettingsApi.as_view(),
        name="quality-settings",
    ),
    path(
        "projects/<slug:slug>/findings/",
        quality_api.FindingListApi.as_view(),
        name="finding-list",
    ),
    path(
        "projects/<slug:slug>/findings/<int:finding_id>/",
        quality_api.FindingDetailApi.as_view(),
        name="finding-detail",
    ),
    path(
        "projects/<slug:slug>/findings/<int:finding_id>/resolve/",
        quality_api.FindingResolveApi.as_view(),
        name="finding-resolve",
    ),
    path(
        "projects/<slug:slug>/findings/<int:finding_id>/action/",
        quality_api.FindingActionApi.as_view(),
        name="finding-action",
    ),
    path("jobs/<int:job_id>/cancel/", quality_api.JobRunCancelApi.as_view(), name="job-cancel"),
    # The dataset lifecycle (split design, versions, audits, distribution).
    path("", include("curation.split_api_urls")),
    path("", include("curation.version_api_urls")),
    path("", include("curation.audit_api_urls")),
    path("", include("curation.distribution_api_urls")),
    path("", include("curation.reference_api_urls")),
]
