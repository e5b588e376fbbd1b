"""Review of items whose annotators disagree, the final labels that come out of it, and the
agreement figures of a project.

An item gets a Review once it has its full overlap. The project's ReviewPolicy decides whether
its annotations settle it (status "auto", with the rule that did) or a reviewer must (status
"waiting", then "decided"). Annotations are never changed by review: a decision is a separate
record, and every change of a review is kept in ReviewEvent (who, when, before and after, ASG-8).
"""

from django.conf import settings
from django.db import models
from django.db.models import Q

from curation.models import Item, Project


class ReviewRule(models.TextChoices):
    ANY_DISAGREEMENT = "any_disagreement", "Any disagreement goes to a reviewer"
    NO_MAJORITY = "no_majority", "Only items without a majority go to a reviewer"
    BELOW_THRESHOLD = "below_threshold", "Items agreeing below a threshold go to a reviewer"


class AlphaLevel(models.TextChoices):
    ORDINAL = "ordinal", "Ordinal"
    INTERVAL = "interval", "Interval"


class ReviewPolicy(models.Model):
    """How a project's items are settled and how its agreement is judged (one per project)."""

    project = models.OneToOneField(Project, on_delete=models.CASCADE, related_name="review_policy")
    rule = models.CharField(
        max_length=32, choices=ReviewRule.choices, default=ReviewRule.ANY_DISAGREEMENT
    )
    # For BELOW_THRESHOLD: the share of agreeing annotator pairs an item needs to be settled.
    item_threshold = models.FloatField(default=0.67)
    # Reviewers see "Annotator 1, 2, …" instead of names.
    anonymize = models.BooleanField(default=False)
    # Krippendorff (2004): rely on alpha >= 0.8, draw tentative conclusions above 0.667.
    agreement_threshold = models.FloatField(default=0.8)
    tentative_threshold = models.FloatField(default=0.667)
    # Rating projects: the level of measurement for alpha.
    rating_level = models.CharField(
        max_length=16, choices=AlphaLevel.choices, default=AlphaLevel.ORDINAL
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(item_threshold__gte=0.0, item_threshold__lte=1.0),
                name="reviewpolicy_item_threshold_0_1",
            ),
            models.CheckConstraint(
                condition=Q(tentative_threshold__lte=models.F("agreement_threshold")),
                name="reviewpolicy_tentative_below_threshold",
            ),
        ]

    def __str__(self):
        return f"Review policy of {self.project}"


class ReviewStatus(models.TextChoices):
    AUTO = "auto", "Settled by rule"
    WAITING = "waiting", "Waiting for a reviewer"
    DECIDED = "decided", "Decided by a reviewer"


class FinalRule(models.TextChoices):
    UNANIMOUS = "unanimous", "Unanimous"
    MAJORITY = "majority", "Majority"
    ADJUDICATED = "adjudicated", "Adjudicated"


class Review(models.Model):
    """Where an item stands in review, and its final label once it has one."""

    item = models.OneToOneField(Item, on_delete=models.CASCADE, related_name="review")
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    status = models.CharField(max_length=16, choices=ReviewStatus.choices)
    value = models.JSONField(null=True, blank=True)  # the final label; None while waiting
    rule = models.CharField(max_length=16, choices=FinalRule.choices, blank=True)
    # Share of agreeing annotator pairs on the item (1.0 unanimous); orders "most disagreement".
    agreement = models.FloatField(null=True, blank=True)
    waiting_since = models.DateTimeField(null=True, blank=True)
    claimed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    claim_expires_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    seconds_spent = models.FloatField(null=True, blank=True)
    rationale = models.TextField(blank=True)
    guidelines_unclear = models.BooleanField(default=False)
    guideline_comment = models.TextField(blank=True)
    guideline_resolved = models.BooleanField(default=False)
    # A lead sent the item back: it waits for a reviewer whatever its annotations say.
    requeued = models.BooleanField(default=False)
    version = models.PositiveIntegerField(default=1)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=ReviewStatus.values), name="review_status_valid"
            ),
            models.CheckConstraint(
                condition=~Q(status="decided") | Q(rule="adjudicated"),
                name="review_decided_is_adjudicated",
            ),
        ]
        indexes = [
            models.Index(fields=["project", "status", "waiting_since"], name="review_queue"),
            models.Index(fields=["project", "status", "agreement"], name="review_queue_disagree"),
            models.Index(
                fields=["project"], condition=Q(guidelines_unclear=True), name="review_flagged"
            ),
        ]

    def __str__(self):
        return f"Review of {self.item_id} ({self.status})"


class ReviewAction(models.TextChoices):
    SETTLED = "settled", "Settled by rule"
    QUEUED = "queued", "Sent to review"
    DECIDED = "decided", "Decided"
    REQUEUED = "requeued", "Sent back for review"
    REOPENED = "reopened", "Reopened: the annotations changed"
    RESETTLED = "resettled", "Settled again by a new rule"


class ReviewEvent(models.Model):
    """One change of a review: the trail of who settled an item, when, and what changed."""

    review = models.ForeignKey(Review, on_delete=models.CASCADE, related_name="events")
    action = models.CharField(max_length=16, choices=ReviewAction.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    before = models.JSONField(null=True, blank=True)  # {"status", "value", "rule"} before
    after = models.JSONField(null=True, blank=True)
    note = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self):
        return f"{self.action} on review {self.review_id}"


class AgreementSnapshot(models.Model):
    """The project's agreement figures as the last computation left them (the dashboard and
    the API read this; a job writes it). `stale_since` is set when annotations change."""

    project = models.OneToOneField(Project, on_delete=models.CASCADE, related_name="+")
    data = models.JSONField(default=dict)
    computed_at = models.DateTimeField(null=True, blank=True)
    seconds = models.FloatField(null=True, blank=True)
    stale_since = models.DateTimeField(null=True, blank=True)

    def __str__(self):
        return f"Agreement of {self.project} at {self.computed_at}"
