from django.apps import AppConfig


class AnnotationConfig(AppConfig):
    name = "annotation"
    verbose_name = "Annotation"

    def ready(self):
        from annotation import signals  # noqa: F401  (connects the receivers)
        from annotation.exporting import enricher
        from annotation.importing import extension
        from annotation.selectors import schema_fields
        from curation.extensions import (
            REQUIRED_FIELDS,
            register_export_enricher,
            register_import_extension,
        )

        register_import_extension(extension)
        register_export_enricher(enricher)
        if schema_fields not in REQUIRED_FIELDS:
            REQUIRED_FIELDS.append(schema_fields)
