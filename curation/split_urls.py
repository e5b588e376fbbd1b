"""Pages of splits (included by curation/urls.py, names in the "curation" namespace)."""

from django.urls import path

from curation import split_views

urlpatterns = [
    path("p/<slug:slug>/splits/", split_views.splits, name="splits"),
]
