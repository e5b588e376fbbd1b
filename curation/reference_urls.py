"""Routes of the reference sets page (included by curation/urls.py, so their names are in the
"curation" namespace)."""

from django.urls import path

from curation import reference_views

SETS = "p/<slug:slug>/quality/reference-sets/"

urlpatterns = [
    path(SETS, reference_views.reference_sets, name="reference_sets"),
    path(
        SETS + "<int:set_id>/delete/",
        reference_views.reference_set_delete_view,
        name="reference_set_delete",
    ),
]
