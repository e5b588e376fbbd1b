from django.apps import AppConfig


class AnnotationConfig(AppConfig):
    name = "annotation"
    verbose_name = "Annotation"

    def ready(self):
        from annotation.importing import extension
        from curation.extensions import register_import_extension

        register_import_extension(extension)
