"""API routes of splits (included by curation/api_urls.py, names in the "api" namespace)."""

urlpatterns: list = []
