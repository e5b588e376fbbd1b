"""Pages of the annotation app: the labeling page and my work (labeling_views) and the label
schema settings (schema_views)."""

from annotation import labeling_urls, schema_urls

app_name = "annotation"

urlpatterns = [*schema_urls.urlpatterns, *labeling_urls.urlpatterns]
