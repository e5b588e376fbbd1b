"""Pages of audits (included by curation/urls.py, names in the "curation" namespace)."""

urlpatterns: list = []
