"""The adjudication API's routes, included under /api/ in the "api" namespace
(config/api_urls.py). Reviews are addressed by their item's id, inside the project's slug."""

from django.urls import path

from adjudication import api

PROJECT = "projects/<slug:slug>/"
REVIEW = PROJECT + "reviews/<int:item_id>/"

urlpatterns = [
    path(PROJECT + "agreement/", api.AgreementApi.as_view(), name="agreement"),
    path(PROJECT + "reviews/", api.ReviewListApi.as_view(), name="review-list"),
    path(PROJECT + "reviews/next/", api.ReviewNextApi.as_view(), name="review-next"),
    path(REVIEW, api.ReviewDetailApi.as_view(), name="review-detail"),
    path(REVIEW + "claim/", api.ReviewClaimApi.as_view(), name="review-claim"),
    path(REVIEW + "release/", api.ReviewReleaseApi.as_view(), name="review-release"),
    path(REVIEW + "decision/", api.ReviewDecisionApi.as_view(), name="review-decision"),
    path(REVIEW + "requeue/", api.ReviewRequeueApi.as_view(), name="review-requeue"),
    path(
        PROJECT + "guideline-issues/",
        api.GuidelineIssueListApi.as_view(),
        name="guideline-issue-list",
    ),
    path(
        PROJECT + "guideline-issues/<int:item_id>/resolve/",
        api.GuidelineIssueResolveApi.as_view(),
        name="guideline-issue-resolve",
    ),
    path(PROJECT + "items/<int:item_id>/gold/", api.ItemGoldApi.as_view(), name="item-gold"),
    path(PROJECT + "review-policy/", api.ReviewPolicyApi.as_view(), name="review-policy"),
]
