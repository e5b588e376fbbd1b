"""Pages of distributions (included by curation/urls.py, names in the "curation" namespace)."""

from django.urls import path

from curation import distribution_views

PAGE = "p/<slug:slug>/distribution/"

urlpatterns = [
    path(PAGE, distribution_views.distribution, name="distribution"),
    path(
        PAGE + "references/",
        distribution_views.distribution_reference_upload,
        name="distribution_reference_upload",
    ),
    path(
        PAGE + "references/<int:reference_id>/delete/",
        distribution_views.distribution_reference_delete_view,
        name="distribution_reference_delete",
    ),
]
