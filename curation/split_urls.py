"""Pages of splits (included by curation/urls.py, names in the "curation" namespace)."""

urlpatterns: list = []
