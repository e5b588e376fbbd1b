"""Routes of the review queue, the review page, guideline issues, gold items and the review
settings (included by adjudication/urls.py)."""

from django.urls import path

from adjudication import review_views as views

REVIEW = "p/<slug:slug>/review/"
ITEM = REVIEW + "<int:item_id>/"

urlpatterns = [
    path(REVIEW, views.review_queue, name="review_queue"),
    path(REVIEW + "next/", views.review_start, name="review_next"),
    path(REVIEW + "settings/", views.review_settings, name="review_settings"),
    path(ITEM, views.review_item, name="review_item"),
    path(ITEM + "skip/", views.review_skip, name="review_skip"),
    path(ITEM + "requeue/", views.review_requeue_view, name="review_requeue"),
    path("p/<slug:slug>/guideline-issues/", views.guideline_issues, name="guideline_issues"),
    path(
        "p/<slug:slug>/guideline-issues/<int:item_id>/resolve/",
        views.guideline_issue_resolve_view,
        name="guideline_issue_resolve",
    ),
    path("p/<slug:slug>/gold/", views.gold, name="gold"),
    path(
        "p/<slug:slug>/gold/<int:item_id>/promote/",
        views.gold_promote_view,
        name="gold_promote",
    ),
    path("p/<slug:slug>/gold/<int:item_id>/remove/", views.gold_remove, name="gold_remove"),
]
