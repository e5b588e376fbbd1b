"""The API of split design: the current splits (reviewer, lead), a plan's preview and applying
it (lead). Ratios are fractions that add up to 1 (the page takes percentages).

Projects are reached through `HasProjectRole` (404 for non-members, 403 below the role). The
plan is checked twice: its shape by `SplitPlanSerializer`, its meaning by
`curation.splits.split_plan` (a ValidationError naming the field, answered as 400).
"""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from curation import serializers as s
from curation.api import ERRORS, ConcordApi
from curation.models import Role
from curation.permissions import HasProjectRole
from curation.splits import FrozenTestMove, split_apply, split_current, split_plan, split_preview
from curation.splitting import METHODS

# --- serializers ------------------------------------------------------------------------------


class RatiosSerializer(s.StrictSerializer):
    train = serializers.FloatField(help_text="Fraction of the items for train, e.g. 0.8.")
    dev = serializers.FloatField(default=0.0, help_text="Fraction for dev; may be 0.")
    test = serializers.FloatField(help_text="Fraction for test; the three add up to 1.")


class SplitPlanSerializer(s.StrictSerializer):
    method = serializers.ChoiceField(
        choices=METHODS,
        help_text="random; stratified (by final label); time (older in train, newer in test, "
        "by the metadata date in date_field).",
    )
    ratios = RatiosSerializer()
    seed = serializers.IntegerField(default=0, help_text="The same seed gives the same split.")
    keep_clusters = serializers.BooleanField(
        default=True, help_text="Keep near-duplicate clusters of the latest run in one split."
    )
    group_key = serializers.CharField(
        default="", allow_blank=True, max_length=64,
        help_text="A metadata key: items sharing its value land in one split.",
    )  # fmt: skip
    date_field = serializers.CharField(
        default="", allow_blank=True, max_length=64,
        help_text="With method time: the metadata key holding an ISO 8601 date.",
    )  # fmt: skip


class SplitApplySerializer(SplitPlanSerializer):
    confirm_frozen_test = serializers.BooleanField(
        default=False, help_text="Needed when items of a frozen version's test split would move."
    )


class LabelRowSerializer(serializers.Serializer):
    label = serializers.CharField()
    total = serializers.IntegerField()
    train = serializers.IntegerField()
    dev = serializers.IntegerField()
    test = serializers.IntegerField()
    train_share = serializers.FloatField(help_text="Share of the train items with this label.")
    dev_share = serializers.FloatField()
    test_share = serializers.FloatField()


class SplitCountSerializer(serializers.Serializer):
    split = serializers.CharField()
    count = serializers.IntegerField()
    share = serializers.FloatField()
    ideal = serializers.FloatField(help_text="The ratio times the number of items.")


class GroupsSerializer(serializers.Serializer):
    count = serializers.IntegerField(help_text="Groups of two or more items kept together.")
    items = serializers.IntegerField()
    largest = serializers.IntegerField()
    clusters_from = serializers.CharField(help_text="Parameters of the near-duplicate pairs.")


class SplitPreviewSerializer(serializers.Serializer):
    plan = serializers.DictField()
    items = serializers.IntegerField()
    splits = SplitCountSerializer(many=True)
    labels = LabelRowSerializer(many=True)
    groups = GroupsSerializer()
    changed = serializers.IntegerField(help_text="Items whose split would change.")
    frozen_test = serializers.IntegerField(help_text="Items in a frozen version's test split.")
    frozen_test_moved = serializers.IntegerField(help_text="Of those, items that would leave test.")
    undated = serializers.IntegerField()
    missing_dates = serializers.IntegerField()
    unparsed_dates = serializers.IntegerField()


class SplitAppliedSerializer(SplitPreviewSerializer):
    job = s.JobRunSerializer(help_text="The leakage check started after applying.")


class SplitCurrentSerializer(serializers.Serializer):
    items = serializers.IntegerField()
    counts = serializers.DictField(child=serializers.IntegerField())
    labels = LabelRowSerializer(many=True)


def _plan(data: dict):
    return split_plan(method=data["method"], ratios=dict(data["ratios"]), seed=data["seed"],
                      keep_clusters=data["keep_clusters"], group_key=data["group_key"],
                      date_field=data["date_field"])  # fmt: skip


# --- views ------------------------------------------------------------------------------------


class SplitApi(ConcordApi):
    """GET: the current splits of the items not dropped (reviewer, lead). POST: apply a plan
    (lead): 202 with what was written and the leakage job; 409 when items of a frozen test
    split would move without confirm_frozen_test."""

    permission_classes = [IsAuthenticated, HasProjectRole]
    project_roles = {"GET": Role.REVIEWER, "POST": Role.LEAD}
    serializer_class = SplitApplySerializer

    @extend_schema(
        summary="The current splits: counts and label distribution (reviewer, lead)",
        responses={200: SplitCurrentSerializer, **ERRORS},
    )
    def get(self, request, slug):
        return Response(split_current(project=self.project))

    @extend_schema(
        summary="Apply a split plan and start the leakage check (lead)",
        request=SplitApplySerializer,
        responses={202: SplitAppliedSerializer, 409: s.ErrorSerializer, **ERRORS},
    )
    def post(self, request, slug):
        data = self.validated(SplitApplySerializer, request.data)
        try:
            summary, run = split_apply(project=self.project, user=request.user, plan=_plan(data),
                                       confirm_frozen_test=data["confirm_frozen_test"])  # fmt: skip
        except FrozenTestMove as refused:
            body = {"detail": str(refused), "errors": {"confirm_frozen_test": [str(refused)]},
                    "frozen_test_moved": refused.count}  # fmt: skip
            return Response(body, status=status.HTTP_409_CONFLICT)
        body = {**summary, "job": s.JobRunSerializer(run).data}
        return Response(body, status=status.HTTP_202_ACCEPTED)


class SplitPreviewApi(ConcordApi):
    """What applying a plan would do; writes nothing (lead)."""

    permission_classes = [IsAuthenticated, HasProjectRole]
    project_roles = {"POST": Role.LEAD}
    serializer_class = SplitPlanSerializer

    @extend_schema(
        summary="Preview a split plan (lead)",
        request=SplitPlanSerializer,
        responses={200: SplitPreviewSerializer, **ERRORS},
    )
    def post(self, request, slug):
        data = self.validated(SplitPlanSerializer, request.data)
        return Response(split_preview(project=self.project, plan=_plan(data)))
