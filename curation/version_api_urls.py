"""API routes of versions (included by curation/api_urls.py, names in the "api" namespace)."""

from django.urls import path

from curation import version_api as api

urlpatterns = [
    path("projects/<slug:slug>/versions/", api.VersionListCreateApi.as_view(),
         name="version-list"),
    path("projects/<slug:slug>/versions/<int:number>/", api.VersionDetailApi.as_view(),
         name="version-detail"),
    path("projects/<slug:slug>/versions/<int:number>/card/", api.VersionCardApi.as_view(),
         name="version-card"),
    path("projects/<slug:slug>/versions/<int:number>/download/",
         api.VersionDownloadApi.as_view(), name="version-download"),
    path("projects/<slug:slug>/diff/", api.VersionDiffApi.as_view(), name="version-diff"),
]  # fmt: skip
