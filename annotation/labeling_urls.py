"""Routes of the labeling page and "My work" (included by annotation/urls.py)."""

from django.urls import path

from annotation import labeling_views

urlpatterns = [
    path("p/<slug:slug>/label/", labeling_views.label, name="label"),
    path("p/<slug:slug>/label/<int:item_id>/", labeling_views.label_item, name="label_item"),
    path("p/<slug:slug>/label/<int:item_id>/skip/", labeling_views.label_skip, name="label_skip"),
    path("p/<slug:slug>/my-work/", labeling_views.my_work, name="my_work"),
]
