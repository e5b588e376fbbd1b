"""Routes of the quality page and its settings, the findings and job cancellation (included by
curation/urls.py, so their names are in the "curation" namespace)."""

from django.urls import path

from curation import quality_views

QUALITY = "p/<slug:slug>/quality/"
FINDING = QUALITY + "findings/<int:finding_id>/"

urlpatterns = [
    path(QUALITY, quality_views.quality, name="quality"),
    path(QUALITY + "run/", quality_views.quality_run, name="quality_run"),
    path(QUALITY + "settings/", quality_views.quality_settings, name="quality_settings"),
    path(FINDING, quality_views.finding_detail, name="finding"),
    path(FINDING + "resolve/", quality_views.finding_resolve_view, name="finding_resolve"),
    path(FINDING + "action/", quality_views.finding_action_view, name="finding_action"),
    path("p/<slug:slug>/jobs/<int:job_id>/cancel/", quality_views.job_cancel, name="job_cancel"),
]
