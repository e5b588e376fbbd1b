from django.urls import include, path

from curation import views

app_name = "curation"

urlpatterns = [
    path("", views.project_list, name="project_list"),
    path("projects/new/", views.project_create, name="project_create"),
    path("p/<slug:slug>/", views.project_detail, name="project_detail"),
    path("p/<slug:slug>/edit/", views.project_edit, name="project_edit"),
    path("p/<slug:slug>/jobs/", views.job_start, name="job_start"),
    path("p/<slug:slug>/jobs/<int:job_id>/", views.job_status, name="job_status"),
    path("p/<slug:slug>/jobs/<int:job_id>/errors/", views.job_errors, name="job_errors"),
    path("p/<slug:slug>/jobs/<int:job_id>/download/", views.job_download, name="job_download"),
    path("p/<slug:slug>/import/", views.import_items, name="import_items"),
    path("p/<slug:slug>/export/", views.export_items, name="export_items"),
    path("p/<slug:slug>/duplicates/", views.duplicates, name="duplicates"),
    path("p/<slug:slug>/members/", views.members, name="members"),
    path(
        "p/<slug:slug>/members/<int:membership_id>/role/",
        views.member_role,
        name="member_role",
    ),
    path(
        "p/<slug:slug>/members/<int:membership_id>/remove/",
        views.member_remove,
        name="member_remove",
    ),
    path("", include("curation.quality_urls")),
    path("", include("curation.reference_urls")),
    # The dataset lifecycle: split design, frozen versions and their cards, sample audits and
    # synthetic batches, distribution analysis.
    path("", include("curation.split_urls")),
    path("", include("curation.version_urls")),
    path("", include("curation.audit_urls")),
    path("", include("curation.distribution_urls")),
]
