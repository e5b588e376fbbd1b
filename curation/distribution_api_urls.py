"""API routes of distributions (included by curation/api_urls.py, names in the "api" namespace)."""

urlpatterns: list = []
