"""API routes of audits (included by curation/api_urls.py, names in the "api" namespace)."""

urlpatterns: list = []
