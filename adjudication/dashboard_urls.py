"""Routes of the agreement dashboard (included by adjudication/urls.py)."""

from django.urls import path

from adjudication import dashboard_views

urlpatterns = [
    path("p/<slug:slug>/agreement/", dashboard_views.agreement, name="agreement"),
    path(
        "p/<slug:slug>/agreement/recompute/",
        dashboard_views.agreement_recompute,
        name="agreement_recompute",
    ),
    path(
        "p/<slug:slug>/agreement/<str:table>.csv",
        dashboard_views.agreement_csv,
        name="agreement_csv",
    ),
    path(
        "p/<slug:slug>/agreement/confusion/",
        dashboard_views.agreement_confusion,
        name="agreement_confusion",
    ),
    path("p/<slug:slug>/agreement/items/", dashboard_views.agreement_items, name="agreement_items"),
]
