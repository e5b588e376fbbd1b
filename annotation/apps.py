from django.apps import AppConfig


class AnnotationConfig(AppConfig):
    name = "annotation"
    verbose_name = "Annotation"

    def ready(self):
        from annotation import signals  # noqa: F401  (connects the receivers)
        from annotation.exporting import enricher
        from annotation.importing import extension
        from curation.extensions import register_export_enricher, register_import_extension

        register_import_extension(extension)
        register_export_enricher(enricher)
