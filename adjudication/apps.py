from django.apps import AppConfig


class AdjudicationConfig(AppConfig):
    name = "adjudication"
    verbose_name = "Adjudication"

    def ready(self):
        from adjudication import (  # noqa: F401  (registers the jobs, connects receivers)
            jobs,
            quality_jobs,
            signals,
        )
        from adjudication.exporting import enricher, items_decided
        from adjudication.version_summary import version_summary
        from annotation.selectors import ADJUDICATED_ITEMS
        from curation.extensions import VERSION_SUMMARIES, register_export_enricher

        register_export_enricher(enricher)
        if version_summary not in VERSION_SUMMARIES:
            VERSION_SUMMARIES.append(version_summary)
        if items_decided not in ADJUDICATED_ITEMS:
            ADJUDICATED_ITEMS.append(items_decided)
