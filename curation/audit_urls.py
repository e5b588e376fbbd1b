"""Pages of audits (included by curation/urls.py, names in the "curation" namespace)."""

from django.urls import path

from curation import audit_views

urlpatterns = [
    path("p/<slug:slug>/audits/", audit_views.audits, name="audits"),
    path("p/<slug:slug>/audits/draw/", audit_views.audit_create, name="audit_create"),
    path("p/<slug:slug>/audits/<int:audit_id>/", audit_views.audit, name="audit"),
    path(
        "p/<slug:slug>/audits/<int:audit_id>/judge/", audit_views.audit_judge, name="audit_judge"
    ),  # fmt: skip
    path(
        "p/<slug:slug>/audits/<int:audit_id>/samples.csv", audit_views.audit_csv, name="audit_csv"
    ),  # fmt: skip
    path("p/<slug:slug>/batches/", audit_views.batches, name="batches"),
    path("p/<slug:slug>/batches/collect/", audit_views.batch_collect, name="batch_collect"),
    path(
        "p/<slug:slug>/batches/<int:batch_id>/threshold/",
        audit_views.batch_threshold,
        name="batch_threshold",
    ),  # fmt: skip
]
