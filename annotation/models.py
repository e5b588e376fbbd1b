"""Label schemas and the annotations annotators give."""

from django.conf import settings
from django.db import models
from django.db.models import Q

from curation.models import Item, Project


class SchemaKind(models.TextChoices):
    SINGLE_CHOICE = "single_choice", "Single choice"


class LabelSchema(models.Model):
    """What annotators give for each item of a project. `config` is validated by schemas.py."""

    project = models.OneToOneField(Project, on_delete=models.CASCADE, related_name="label_schema")
    kind = models.CharField(
        max_length=32, choices=SchemaKind.choices, default=SchemaKind.SINGLE_CHOICE
    )
    config = models.JSONField(default=dict)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=SchemaKind.values), name="labelschema_kind_valid"
            )
        ]

    def __str__(self):
        return f"{self.get_kind_display()} schema of {self.project}"


class Annotation(models.Model):
    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="annotations")
    annotator = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="annotations"
    )
    value = models.JSONField()
    seconds_spent = models.FloatField(null=True, blank=True)
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["item_id", "created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["item", "annotator"], name="annotation_one_per_item_annotator"
            ),
            models.CheckConstraint(
                condition=Q(seconds_spent__isnull=True) | Q(seconds_spent__gte=0),
                name="annotation_seconds_nonnegative",
            ),
        ]
        indexes = [models.Index(fields=["annotator", "created_at"], name="annotation_by_annotator")]

    def __str__(self):
        return f"{self.annotator} on {self.item_id}"
