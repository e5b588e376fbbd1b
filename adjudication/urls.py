"""Pages of the adjudication app: the review queue and review page (review_urls) and the
agreement dashboard (dashboard_urls)."""

from adjudication import dashboard_urls, review_urls

app_name = "adjudication"

urlpatterns = [*review_urls.urlpatterns, *dashboard_urls.urlpatterns]
