"""The JSON of the labeling API. Input serializers check shape only; annotation.services checks
values against the project's label schema and does the writes.

What an annotator is sent never holds other annotators' values or how many there are (blind
annotation, AUTHZ-7): the item carries only its id, external id and data.
"""

from rest_framework import serializers

from annotation.models import Annotation, Lease, Skip
from curation.models import Item
from curation.serializers import StrictSerializer

MAX_SECONDS_SPENT = 24 * 60 * 60


class LabelingItemSerializer(serializers.ModelSerializer):
    """An item as an annotator sees it: no counts, no prediction, no metadata."""

    class Meta:
        model = Item
        fields = ["id", "external_id", "data"]
        read_only_fields = fields


class LeaseSerializer(serializers.ModelSerializer):
    class Meta:
        model = Lease
        fields = ["expires_at", "presentation"]
        read_only_fields = fields


class ProgressSerializer(serializers.Serializer):
    done_today = serializers.IntegerField(help_text="Your annotations in this project today.")
    done = serializers.IntegerField(help_text="Your annotations in this project.")
    left = serializers.IntegerField(
        help_text="Items you may still be given here, the one you hold included; counted up "
        "to 1,000."
    )
    left_capped = serializers.BooleanField(help_text="True when more than `left` are left.")


class NextSerializer(serializers.Serializer):
    """The item leased to you, until when, and your progress (documentation only)."""

    item = LabelingItemSerializer()
    lease = LeaseSerializer()
    progress = ProgressSerializer()


class AnnotationSubmitSerializer(StrictSerializer):
    value = serializers.JSONField(
        help_text='Your answer, in the shape of the project\'s schema, e.g. {"label": "billing"}.'
    )
    seconds_spent = serializers.FloatField(
        required=False, allow_null=True, min_value=0, max_value=MAX_SECONDS_SPENT, default=None
    )
    submission_key = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=64,
        default="",
        help_text="Made by the client per submit: sending it again never adds a second answer.",
    )
    version = serializers.IntegerField(
        required=False,
        allow_null=True,
        min_value=1,
        default=None,
        help_text="The version you are replacing; another one stored is a 409 (no overwrite).",
    )
    take_next = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Also lease your next item: the answer then carries `next`, as "
        "`POST /api/projects/{slug}/next/` gives it, or null when nothing is left for you. One "
        "call per item instead of two.",
    )


class AnnotationSerializer(serializers.ModelSerializer):
    item = serializers.IntegerField(source="item_id", read_only=True)
    annotator = serializers.CharField(source="annotator.username", read_only=True)

    class Meta:
        model = Annotation
        fields = [
            "id",
            "item",
            "annotator",
            "value",
            "presentation",
            "seconds_spent",
            "version",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class AnnotationAnswerSerializer(AnnotationSerializer):
    """A submit's answer (documentation only): the annotation, and `next` when asked for."""

    next = NextSerializer(
        read_only=True,
        allow_null=True,
        help_text="Only with `take_next`: your next item, or null when nothing is left for you.",
    )

    class Meta(AnnotationSerializer.Meta):
        fields = [*AnnotationSerializer.Meta.fields, "next"]


class SkipCreateSerializer(StrictSerializer):
    reason = serializers.CharField(required=False, allow_blank=True, max_length=500, default="")


class SkipSerializer(serializers.ModelSerializer):
    item = serializers.IntegerField(source="item_id", read_only=True)

    class Meta:
        model = Skip
        fields = ["item", "reason", "created_at"]
        read_only_fields = fields
