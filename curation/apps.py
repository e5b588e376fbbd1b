import logging

from django.apps import AppConfig
from django.conf import settings

logger = logging.getLogger("concord")


class CurationConfig(AppConfig):
    name = "curation"
    verbose_name = "Curation"

    def ready(self):
        from curation import (  # noqa: F401  (registers signals and checks)
            accounts,
            checks,
            exporting,  # noqa: F401  (registers the export job)
            versions,  # noqa: F401  (registers the freeze job)
        )
        from curation.importing import pipeline  # noqa: F401  (registers the import job)
        from curation.quality import (  # noqa: F401  (registers the quality jobs)
            jobs,
            near_duplicates,
            reference_leakage,
        )

        if settings.CELERY_TASK_ALWAYS_EAGER:
            logger.info("No CELERY_BROKER_URL configured: jobs run in-process (embedded default).")
        else:
            logger.info("Jobs are sent to the Celery broker; run a worker to process them.")
