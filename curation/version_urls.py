"""Pages of versions (included by curation/urls.py, names in the "curation" namespace)."""

from django.urls import path

from curation import version_views as views

urlpatterns = [
    path("p/<slug:slug>/versions/", views.versions, name="versions"),
    path("p/<slug:slug>/versions/diff/", views.versions_diff, name="versions_diff"),
    path("p/<slug:slug>/versions/<int:number>/", views.version_detail, name="version_detail"),
    path("p/<slug:slug>/versions/<int:number>/card/", views.version_card, name="version_card"),
    path(
        "p/<slug:slug>/versions/<int:number>/download/",
        views.version_download,
        name="version_download",
    ),
]
