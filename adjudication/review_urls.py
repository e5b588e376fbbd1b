"""Routes of the review queue, the review page, guideline issues, gold items and the review
settings (included by adjudication/urls.py)."""

from django.urls import path

from adjudication import lead_views, review_views

REVIEW = "p/<slug:slug>/review/"
ITEM = REVIEW + "<int:item_id>/"

urlpatterns = [
    path(REVIEW, review_views.review_queue, name="review_queue"),
    path(REVIEW + "next/", review_views.review_start, name="review_next"),
    path(REVIEW + "settings/", lead_views.review_settings, name="review_settings"),
    path(ITEM, review_views.review_item, name="review_item"),
    path(ITEM + "skip/", review_views.review_skip, name="review_skip"),
    path(ITEM + "requeue/", review_views.review_requeue_view, name="review_requeue"),
    path("p/<slug:slug>/guideline-issues/", lead_views.guideline_issues, name="guideline_issues"),
    path(
        "p/<slug:slug>/guideline-issues/<int:item_id>/resolve/",
        lead_views.guideline_issue_resolve_view,
        name="guideline_issue_resolve",
    ),
    path("p/<slug:slug>/gold/", lead_views.gold, name="gold"),
    path(
        "p/<slug:slug>/gold/<int:item_id>/promote/",
        lead_views.gold_promote_view,
        name="gold_promote",
    ),
    path("p/<slug:slug>/gold/<int:item_id>/remove/", lead_views.gold_remove, name="gold_remove"),
]
