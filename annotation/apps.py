from django.apps import AppConfig


class AnnotationConfig(AppConfig):
    name = "annotation"
    verbose_name = "Annotation"

    def ready(self):
        from annotation import signals  # noqa: F401  (connects the receivers)
        from annotation.exporting import enricher
        from annotation.importing import extension
        from annotation.selectors import schema_fields, schema_value_problems
        from annotation.version_summary import version_summary
        from curation.extensions import (
            REQUIRED_FIELDS,
            VALUE_CHECKS,
            VERSION_SUMMARIES,
            register_export_enricher,
            register_import_extension,
        )

        register_import_extension(extension)
        register_export_enricher(enricher)
        if schema_fields not in REQUIRED_FIELDS:
            REQUIRED_FIELDS.append(schema_fields)
        if schema_value_problems not in VALUE_CHECKS:
            VALUE_CHECKS.append(schema_value_problems)
        if version_summary not in VERSION_SUMMARIES:
            VERSION_SUMMARIES.append(version_summary)
