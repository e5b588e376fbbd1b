"""Label schemas and the annotations annotators give."""

from django.conf import settings
from django.db import models
from django.db.models import Q

from curation.models import Item, Project


class SchemaKind(models.TextChoices):
    SINGLE_CHOICE = "single_choice", "Single choice"
    MULTIPLE_CHOICE = "multiple_choice", "Multiple choice"
    SPANS = "spans", "Spans"
    PREFERENCE = "preference", "Pairwise preference"
    RATING = "rating", "Rating"


class LabelSchema(models.Model):
    """What annotators give for each item of a project. `config` is validated by schemas.py."""

    project = models.OneToOneField(Project, on_delete=models.CASCADE, related_name="label_schema")
    kind = models.CharField(
        max_length=32, choices=SchemaKind.choices, default=SchemaKind.SINGLE_CHOICE
    )
    config = models.JSONField(default=dict)
    version = models.PositiveIntegerField(default=1)
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
    # How the item was shown, e.g. {"order": "BA"} when a preference pair was swapped.
    presentation = models.JSONField(default=dict, blank=True)
    seconds_spent = models.FloatField(null=True, blank=True)
    # A key the client makes per submit, so that a retried request never adds a second one.
    submission_key = models.CharField(max_length=64, blank=True)
    version = models.PositiveIntegerField(default=1)
    # Came with imported items (made elsewhere, before): not work done here today.
    imported = models.BooleanField(default=False, db_default=False)
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
            models.UniqueConstraint(
                fields=["annotator", "submission_key"],
                condition=~Q(submission_key=""),
                name="annotation_submission_key_once",
            ),
        ]
        indexes = [models.Index(fields=["annotator", "created_at"], name="annotation_by_annotator")]

    def __str__(self):
        return f"{self.annotator} on {self.item_id}"


class Lease(models.Model):
    """An item reserved for one annotator until `expires_at` (ASG-2); counted in its room."""

    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="leases")
    annotator = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="leases"
    )
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    presentation = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["item", "annotator"], name="lease_one_per_item_annotator"
            ),
            # One item at a time (ASG-4), also for calls of one annotator that race each other.
            models.UniqueConstraint(
                fields=["annotator", "project"], name="lease_one_per_annotator_project"
            ),
        ]
        indexes = [
            models.Index(fields=["project", "expires_at"], name="lease_project_expiry"),
        ]

    def __str__(self):
        return f"{self.annotator} holds {self.item_id} until {self.expires_at:%H:%M}"


class Skip(models.Model):
    """An annotator passed on an item; it is not offered to them again (ASG-3)."""

    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="skips")
    annotator = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="skips"
    )
    reason = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["item", "annotator"], name="skip_one_per_item_annotator"
            )
        ]

    def __str__(self):
        return f"{self.annotator} skipped {self.item_id}"
