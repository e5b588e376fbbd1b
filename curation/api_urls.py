"""Curation's API routes, included under /api/ in the "api" namespace (config/api_urls.py)."""

from django.urls import path

from curation import api

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
]
