from django.urls import path

from curation import views

app_name = "curation"

urlpatterns = [
    path("", views.project_list, name="project_list"),
]
