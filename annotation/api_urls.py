"""The labeling API's routes, included under /api/ in the "api" namespace (config/api_urls.py)."""

from django.urls import path

from annotation import api

urlpatterns = [
    path("projects/<slug:slug>/next/", api.AssignmentNextApi.as_view(), name="assignment-next"),
    path(
        "items/<int:item_id>/annotations/",
        api.AnnotationListCreateApi.as_view(),
        name="annotation-list",
    ),
    path("items/<int:item_id>/skip/", api.ItemSkipApi.as_view(), name="item-skip"),
]
