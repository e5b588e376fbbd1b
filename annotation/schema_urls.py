from django.urls import path

from annotation import schema_views

urlpatterns = [
    path("p/<slug:slug>/schema/", schema_views.schema_edit, name="schema_edit"),
    path("p/<slug:slug>/schema/preview/", schema_views.schema_preview, name="schema_preview"),
]
