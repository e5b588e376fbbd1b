"""API routes of audits (included by curation/api_urls.py, names in the "api" namespace)."""

from django.urls import path

from curation import audit_api

urlpatterns = [
    path(
        "projects/<slug:slug>/audits/", audit_api.AuditListCreateApi.as_view(), name="audit-list"
    ),  # fmt: skip
    path(
        "projects/<slug:slug>/audits/<int:audit_id>/",
        audit_api.AuditDetailApi.as_view(),
        name="audit-detail",
    ),  # fmt: skip
    path(
        "projects/<slug:slug>/audits/<int:audit_id>/samples/",
        audit_api.AuditSampleListApi.as_view(),
        name="audit-sample-list",
    ),  # fmt: skip
    path(
        "projects/<slug:slug>/audits/<int:audit_id>/samples/<int:sample_id>/",
        audit_api.AuditSampleDetailApi.as_view(),
        name="audit-sample-detail",
    ),  # fmt: skip
    path("projects/<slug:slug>/batches/", audit_api.BatchListApi.as_view(), name="batch-list"),
    path(
        "projects/<slug:slug>/batches/<int:batch_id>/",
        audit_api.BatchDetailApi.as_view(),
        name="batch-detail",
    ),  # fmt: skip
]
