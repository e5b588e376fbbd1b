"""The JSON of the adjudication API. Input serializers check shape only; adjudication.services
checks values against the project's label schema and does the writes.

A review is addressed by its item's id, so `id` in every review is the item id. Annotators are
named, or shown as "Annotator 1, 2, …" when the project's review policy anonymises them; their
user ids are never sent, so anonymity holds.
"""

from django.utils import timezone
from rest_framework import serializers

from adjudication.models import AlphaLevel, Review, ReviewEvent, ReviewRule
from curation.models import Item
from curation.serializers import StrictSerializer

MAX_SECONDS_SPENT = 24 * 60 * 60
MAX_TEXT = 5000

# The only orderings the review list and "next" accept; the names, never the user's string,
# choose a tuple of fixed fields (QRY-1).
REVIEW_ORDERS = ["oldest", "disagreement"]
REVIEW_STATUSES = ["waiting", "decided", "auto"]


def _username(user) -> str | None:
    return user.get_username() if user is not None else None


# --- reviews ----------------------------------------------------------------------------------


class ReviewListQuerySerializer(serializers.Serializer):
    """Query parameters of the review list (besides `page` and `page_size`)."""

    status = serializers.ChoiceField(choices=REVIEW_STATUSES, required=False, default="waiting")
    order = serializers.ChoiceField(
        choices=REVIEW_ORDERS,
        required=False,
        default="oldest",
        help_text="oldest: longest waiting (or earliest decided) first; disagreement: lowest "
        "agreement first.",
    )


class ReviewNextSerializer(StrictSerializer):
    order = serializers.ChoiceField(choices=REVIEW_ORDERS, required=False, default="oldest")


class ReviewSerializer(serializers.ModelSerializer):
    """One review in a list: where the item stands and its final label, if any."""

    id = serializers.IntegerField(source="item_id", read_only=True, help_text="The item's id.")
    external_id = serializers.CharField(source="item.external_id", read_only=True)
    claimed_by = serializers.SerializerMethodField(
        help_text="The reviewer holding the item now; null when nobody's claim is live."
    )
    decided_by = serializers.SerializerMethodField()
    n_annotations = serializers.IntegerField(source="item.annotation_count", read_only=True)
    # Plain strings: enums here would be second names for other "status"/"rule" enums.
    status = serializers.CharField(read_only=True, help_text="waiting, decided or auto")
    rule = serializers.CharField(
        read_only=True, help_text='unanimous, majority or adjudicated; "" while waiting'
    )

    class Meta:
        model = Review
        fields = [
            "id",
            "external_id",
            "status",
            "agreement",
            "value",
            "rule",
            "claimed_by",
            "decided_by",
            "decided_at",
            "version",
            "n_annotations",
        ]
        read_only_fields = fields

    def get_claimed_by(self, review) -> str | None:
        live = review.claim_expires_at is not None and review.claim_expires_at > timezone.now()
        return _username(review.claimed_by) if live else None

    def get_decided_by(self, review) -> str | None:
        return _username(review.decided_by)


class ReviewItemSerializer(serializers.ModelSerializer):
    class Meta:
        model = Item
        fields = ["id", "external_id", "data", "metadata"]
        read_only_fields = fields


class GivenSerializer(serializers.Serializer):
    """One annotation of the item; `annotator` is "Annotator N" when the project anonymises."""

    annotator = serializers.CharField(source="name")
    value = serializers.JSONField()
    seconds_spent = serializers.FloatField(allow_null=True)
    presentation = serializers.JSONField()
    created_at = serializers.DateTimeField()


class ReviewEventSerializer(serializers.ModelSerializer):
    actor = serializers.SerializerMethodField(help_text="Null for changes made by the rule.")

    class Meta:
        model = ReviewEvent
        fields = ["action", "actor", "before", "after", "note", "created_at"]
        read_only_fields = fields

    def get_actor(self, event) -> str | None:
        return _username(event.actor)


class ReviewDetailSerializer(ReviewSerializer):
    """A review with its item, every annotation and its history. The view sets `given` and
    `history` on the review before serializing it."""

    item = ReviewItemSerializer(read_only=True)
    annotations = GivenSerializer(source="given", many=True, read_only=True)
    events = ReviewEventSerializer(source="history", many=True, read_only=True)

    class Meta(ReviewSerializer.Meta):
        fields = [
            *ReviewSerializer.Meta.fields,
            "claim_expires_at",
            "waiting_since",
            "rationale",
            "guidelines_unclear",
            "guideline_comment",
            "guideline_resolved",
            "requeued",
            "item",
            "annotations",
            "events",
        ]
        read_only_fields = fields


class DecisionSerializer(StrictSerializer):
    value = serializers.JSONField(
        help_text='The final label, in the shape of the project\'s schema, e.g. {"label": "x"}.'
    )
    rationale = serializers.CharField(
        required=False, allow_blank=True, max_length=MAX_TEXT, default=""
    )
    guidelines_unclear = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Flags the item for the lead: the guidelines did not settle it.",
    )
    guideline_comment = serializers.CharField(
        required=False, allow_blank=True, max_length=MAX_TEXT, default=""
    )
    version = serializers.IntegerField(
        required=False,
        allow_null=True,
        min_value=1,
        default=None,
        help_text="The review's version as you loaded it (or send If-Match); another one stored "
        "is a 409. One of the two is required.",
    )
    seconds_spent = serializers.FloatField(
        required=False, allow_null=True, min_value=0, max_value=MAX_SECONDS_SPENT, default=None
    )


class RequeueSerializer(StrictSerializer):
    note = serializers.CharField(required=False, allow_blank=True, max_length=2000, default="")


# --- guideline issues -------------------------------------------------------------------------


class GuidelineIssueQuerySerializer(serializers.Serializer):
    resolved = serializers.BooleanField(required=False, default=False)


class GuidelineIssueSerializer(serializers.ModelSerializer):
    """A decision the reviewer flagged "guidelines unclear"."""

    id = serializers.IntegerField(source="item_id", read_only=True, help_text="The item's id.")
    external_id = serializers.CharField(source="item.external_id", read_only=True)
    comment = serializers.CharField(source="guideline_comment", read_only=True)
    resolved = serializers.BooleanField(source="guideline_resolved", read_only=True)
    decided_by = serializers.SerializerMethodField()
    status = serializers.CharField(read_only=True, help_text="decided, or waiting once sent back")

    class Meta:
        model = Review
        fields = [
            "id",
            "external_id",
            "status",
            "value",
            "rationale",
            "comment",
            "resolved",
            "decided_by",
            "decided_at",
        ]
        read_only_fields = fields

    def get_decided_by(self, review) -> str | None:
        return _username(review.decided_by)


# --- gold -------------------------------------------------------------------------------------


class GoldSetSerializer(StrictSerializer):
    value = serializers.JSONField(
        help_text="The item's known answer, in the shape of the project's schema."
    )


class GoldSerializer(serializers.ModelSerializer):
    class Meta:
        model = Item
        fields = ["id", "external_id", "gold"]
        read_only_fields = fields


# --- agreement --------------------------------------------------------------------------------


class AgreementQuerySerializer(serializers.Serializer):
    refresh = serializers.BooleanField(
        required=False, default=False, help_text="Recompute now even if fresh (lead)."
    )


class QueueCountsSerializer(serializers.Serializer):
    waiting = serializers.IntegerField()
    claimed = serializers.IntegerField(help_text="Of the waiting ones, held by a reviewer now.")
    decided = serializers.IntegerField()
    settled = serializers.IntegerField(help_text="Settled by the project's rule.")
    flagged = serializers.IntegerField(help_text="Unresolved guideline issues.")


class JobRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.CharField()


class AgreementSerializer(serializers.Serializer):
    """The agreement figures as the dashboard shows them (documentation only)."""

    computed_at = serializers.DateTimeField(allow_null=True)
    stale = serializers.BooleanField(help_text="Annotations changed since the figures were made.")
    seconds = serializers.FloatField(allow_null=True, help_text="How long the computation took.")
    job = JobRefSerializer(allow_null=True, help_text="The computation under way, if any.")
    queue = QueueCountsSerializer()
    statistics = serializers.DictField(help_text="Empty until the first computation finishes.")
    message = serializers.CharField(allow_null=True)


# --- review policy ----------------------------------------------------------------------------


class ReviewPolicySerializer(serializers.Serializer):
    rule = serializers.ChoiceField(choices=ReviewRule.choices)
    item_threshold = serializers.FloatField(min_value=0.0, max_value=1.0)
    anonymize = serializers.BooleanField()
    agreement_threshold = serializers.FloatField(min_value=0.0, max_value=1.0)
    tentative_threshold = serializers.FloatField(min_value=0.0, max_value=1.0)
    rating_level = serializers.ChoiceField(choices=AlphaLevel.choices)
    gold_rate = serializers.FloatField(
        min_value=0.0, max_value=0.5, help_text="Share of gold items mixed into each stream."
    )


class ReviewPolicyUpdateSerializer(StrictSerializer, ReviewPolicySerializer):
    """Any subset of the policy's fields. `current` (context) holds the stored values, so the
    thresholds are checked against each other as they will be saved."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, partial=True, **kwargs)

    def validate(self, attrs):
        merged = {**self.context.get("current", {}), **attrs}
        if merged["tentative_threshold"] > merged["agreement_threshold"]:
            # Name the field the client sent: the one that broke the order.
            field = "tentative_threshold"
            if field not in attrs:
                field = "agreement_threshold"
            raise serializers.ValidationError(
                {field: ["The tentative threshold cannot be above the agreement threshold."]}
            )
        return attrs
