"""The API of sample audits and synthetic batches.

Projects are reached through `HasProjectRole` (404 for non-members, 403 below the role), audits,
samples and batches through their project (AUTHZ-1): an id of another project's is a 404.
Reviewers and leads read and judge; leads draw audits and set a batch's threshold. A verdict
names the sample's `revision`; a stale one is a 409 and changes nothing. The pages
(curation.audit_views) call the same services.
"""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import APIException, ValidationError
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from curation import serializers as s
from curation.api import ERRORS, ConcordApi
from curation.audits import (
    MAX_SEED,
    MAX_SIZE,
    SUGGESTED_SIZE,
    Conflict,
    audit_draw,
    audit_report,
    audit_sample,
    audit_sample_judge,
    project_audit,
    project_audits,
)
from curation.batches import (
    batch_threshold_set,
    latest_complete_audit,
    project_batch,
    project_batches,
)
from curation.models import AuditSample, BatchStatus, Role, SampleAudit, SyntheticBatch, Verdict
from curation.permissions import HasProjectRole
from curation.quality_api import _enum

CONFLICT = {409: s.ErrorSerializer}
VerdictField = _enum([(Verdict.CORRECT, "Correct"), (Verdict.INCORRECT, "Incorrect")],
                     "AuditVerdictEnum")  # fmt: skip
BatchStatusField = _enum(BatchStatus.choices, "SyntheticBatchStatusEnum")


class ConflictError(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "This sample changed since you read it."


# --- serializers ------------------------------------------------------------------------------


class ErrorRateSerializer(serializers.Serializer):
    label = serializers.CharField(allow_null=True, help_text="The label as audited; null: all.")
    sampled = serializers.IntegerField()
    judged = serializers.IntegerField()
    remaining = serializers.IntegerField()
    incorrect = serializers.IntegerField()
    rate = serializers.FloatField(allow_null=True, help_text="incorrect / judged")
    low = serializers.SerializerMethodField(help_text="Wilson 95% interval, lower bound.")
    high = serializers.SerializerMethodField(help_text="Wilson 95% interval, upper bound.")

    def get_low(self, rate) -> float | None:
        return rate.interval[0] if rate.interval else None

    def get_high(self, rate) -> float | None:
        return rate.interval[1] if rate.interval else None


class AuditSampleSerializer(serializers.ModelSerializer):
    reviewer = serializers.SlugRelatedField(slug_field="username", read_only=True)
    value = serializers.JSONField(help_text="The final value under audit (null: none).")
    correct_value = serializers.JSONField(help_text="The reviewer's correct value, if given.")

    class Meta:
        model = AuditSample
        fields = ["id", "position", "item_id", "external_id", "label", "value", "verdict",
                  "correct_value", "comment", "reviewer", "judged_at", "revision"]  # fmt: skip
        read_only_fields = fields


class AuditSerializer(serializers.ModelSerializer):
    version = serializers.SlugRelatedField(slug_field="number", read_only=True)
    batch = serializers.PrimaryKeyRelatedField(read_only=True)
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = SampleAudit
        fields = ["id", "version", "batch", "size", "seed", "stratified", "note", "created_by",
                  "created_at"]  # fmt: skip
        read_only_fields = fields


class AuditListSerializer(AuditSerializer):
    judged = serializers.IntegerField(read_only=True)
    incorrect = serializers.IntegerField(source="wrong", read_only=True)

    class Meta(AuditSerializer.Meta):
        fields = [*AuditSerializer.Meta.fields, "judged", "incorrect"]
        read_only_fields = fields


class AuditReportSerializer(serializers.Serializer):
    audit = AuditSerializer()
    complete = serializers.BooleanField(help_text="Every sample judged.")
    overall = ErrorRateSerializer()
    per_label = ErrorRateSerializer(many=True)
    incorrect = AuditSampleSerializer(many=True, help_text="With the reviewers' correct values.")


class AuditCreateSerializer(s.StrictSerializer):
    version = serializers.IntegerField(required=False, help_text="A version's number; or batch.")
    batch = serializers.IntegerField(required=False, help_text="A synthetic batch's id.")
    size = serializers.IntegerField(
        min_value=1,
        max_value=MAX_SIZE,
        default=SUGGESTED_SIZE,
        help_text="100 to 500 is usual; capped at the population.",
    )
    seed = serializers.IntegerField(
        min_value=0,
        max_value=MAX_SEED,
        required=False,
        allow_null=True,
        help_text="Leave out for a random one.",
    )
    stratified = serializers.BooleanField(default=False, help_text="Proportional per label.")
    note = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")

    def validate(self, attrs):
        if ("version" in attrs) == ("batch" in attrs):
            raise ValidationError({"version": ["Give a version or a batch, not both."]})
        return attrs


class AuditSampleJudgeSerializer(s.StrictSerializer):
    verdict = VerdictField()
    correct_value = serializers.JSONField(required=False, allow_null=True, default=None,
                                          help_text="With incorrect: the right value.")  # fmt: skip
    comment = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")
    revision = serializers.IntegerField(min_value=0, help_text="The revision you judged.")


class SampleFilterSerializer(serializers.Serializer):
    verdict = serializers.ChoiceField(choices=["pending", *Verdict.values[1:]], required=False)


class BatchSerializer(serializers.ModelSerializer):
    status = BatchStatusField(read_only=True)
    run = serializers.PrimaryKeyRelatedField(read_only=True, help_text="The import's job run.")
    latest_audit = serializers.SerializerMethodField(
        help_text="The latest complete audit, which decides the status: {id, rate, low, high}."
    )

    class Meta:
        model = SyntheticBatch
        fields = ["id", "name", "run", "item_count", "max_error_rate", "status", "decided_at",
                  "created_at", "latest_audit"]  # fmt: skip
        read_only_fields = fields

    def get_latest_audit(self, batch) -> dict | None:
        result = latest_complete_audit(batch=batch)
        if result is None:
            return None
        low, high = result.rate.interval
        return {"id": result.audit.pk, "rate": result.rate.rate, "low": low, "high": high}


class BatchUpdateSerializer(s.StrictSerializer):
    max_error_rate = serializers.FloatField(
        min_value=0.0, max_value=1.0, help_text="0 to 1: the largest rate that passes."
    )


# --- views ------------------------------------------------------------------------------------


class AuditListCreateApi(ConcordApi):
    """The project's audits (reviewer, lead); draw one (lead)."""

    permission_classes = [IsAuthenticated, HasProjectRole]
    project_roles = {"GET": Role.REVIEWER, "POST": Role.LEAD}
    serializer_class = AuditListSerializer
    is_list = True

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation has no project
            return SampleAudit.objects.none()
        return project_audits(project=self.project)

    @extend_schema(
        summary="Sample audits (reviewer, lead)", responses=AuditListSerializer(many=True)
    )
    def get(self, request, slug):
        return self.paginated(self.get_queryset(), AuditListSerializer)

    @extend_schema(
        summary="Draw a sample audit of a version or a synthetic batch (lead)",
        request=AuditCreateSerializer,
        responses={201: AuditReportSerializer, **ERRORS},
    )
    def post(self, request, slug):
        data = self.validated(AuditCreateSerializer, request.data)
        source = {}
        if "version" in data:
            source["version"] = self.project.versions.filter(number=data["version"]).first()
            if source["version"] is None:
                raise ValidationError({"version": ["This project has no version of that number."]})
        else:
            source["batch"] = self.project.synthetic_batches.filter(pk=data["batch"]).first()
            if source["batch"] is None:
                raise ValidationError({"batch": ["This project has no batch with that id."]})
        audit = audit_draw(project=self.project, user=request.user, size=data["size"],
                           seed=data.get("seed"), stratified=data["stratified"],
                           note=data["note"], **source)  # fmt: skip
        return Response(_report(audit), status=status.HTTP_201_CREATED)


def _report(audit: SampleAudit) -> dict:
    report = audit_report(audit)
    body = {"audit": audit, "complete": report.complete, "overall": report.overall,
            "per_label": report.per_label, "incorrect": report.incorrect}  # fmt: skip
    return AuditReportSerializer(body).data


class AuditDetailApi(ConcordApi):
    """An audit's report: the error rate with its Wilson interval, overall and per label, and
    the incorrect samples (reviewer, lead)."""

    permission_classes = [IsAuthenticated, HasProjectRole]
    project_roles = {"GET": Role.REVIEWER}
    serializer_class = AuditReportSerializer

    @extend_schema(summary="An audit's report", responses={200: AuditReportSerializer, **ERRORS})
    def get(self, request, slug, audit_id):
        return Response(_report(project_audit(project=self.project, audit_id=audit_id)))


class AuditSampleListApi(ConcordApi):
    """An audit's samples in judging order, filtered by verdict (reviewer, lead)."""

    permission_classes = [IsAuthenticated, HasProjectRole]
    project_roles = {"GET": Role.REVIEWER}
    serializer_class = AuditSampleSerializer
    query_serializer_class = SampleFilterSerializer
    is_list = True

    @extend_schema(
        summary="An audit's samples",
        parameters=[SampleFilterSerializer],
        responses=AuditSampleSerializer(many=True),
    )
    def get(self, request, slug, audit_id):
        audit = project_audit(project=self.project, audit_id=audit_id)
        samples = audit.samples.select_related("reviewer").order_by("position")
        verdict = self.query.get("verdict")
        if verdict:
            samples = samples.filter(verdict="" if verdict == "pending" else verdict)
        return self.paginated(samples, AuditSampleSerializer)


class AuditSampleDetailApi(ConcordApi):
    """One sample (reviewer, lead); PATCH records a verdict, 409 when `revision` is stale."""

    permission_classes = [IsAuthenticated, HasProjectRole]
    project_roles = {"GET": Role.REVIEWER, "PATCH": Role.REVIEWER}
    serializer_class = AuditSampleSerializer

    def _sample(self, audit_id, sample_id):
        audit = project_audit(project=self.project, audit_id=audit_id)
        return audit_sample(audit=audit, sample_id=sample_id)

    @extend_schema(summary="One sample", responses={200: AuditSampleSerializer, **ERRORS})
    def get(self, request, slug, audit_id, sample_id):
        return Response(AuditSampleSerializer(self._sample(audit_id, sample_id)).data)

    @extend_schema(
        summary="Judge a sample (reviewer, lead)",
        request=AuditSampleJudgeSerializer,
        responses={200: AuditSampleSerializer, **ERRORS, **CONFLICT},
    )
    def patch(self, request, slug, audit_id, sample_id):
        data = self.validated(AuditSampleJudgeSerializer, request.data)
        sample = self._sample(audit_id, sample_id)
        try:
            sample = audit_sample_judge(sample=sample, reviewer=request.user, **data)
        except Conflict as conflict:
            raise ConflictError(str(conflict)) from None
        return Response(AuditSampleSerializer(sample).data)


class BatchListApi(ConcordApi):
    """The project's synthetic batches, newest first (reviewer, lead)."""

    permission_classes = [IsAuthenticated, HasProjectRole]
    project_roles = {"GET": Role.REVIEWER}
    serializer_class = BatchSerializer
    is_list = True

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation has no project
            return SyntheticBatch.objects.none()
        return project_batches(project=self.project)

    @extend_schema(
        summary="Synthetic batches (reviewer, lead)", responses=BatchSerializer(many=True)
    )
    def get(self, request, slug):
        return self.paginated(self.get_queryset(), BatchSerializer)


class BatchDetailApi(ConcordApi):
    """One synthetic batch (reviewer, lead); PATCH sets its threshold (lead), which decides it
    again from its latest complete audit."""

    permission_classes = [IsAuthenticated, HasProjectRole]
    project_roles = {"GET": Role.REVIEWER, "PATCH": Role.LEAD}
    serializer_class = BatchSerializer

    @extend_schema(summary="One synthetic batch", responses={200: BatchSerializer, **ERRORS})
    def get(self, request, slug, batch_id):
        return Response(
            BatchSerializer(project_batch(project=self.project, batch_id=batch_id)).data
        )

    @extend_schema(
        summary="Set a batch's threshold (lead)",
        request=BatchUpdateSerializer,
        responses={200: BatchSerializer, **ERRORS},
    )
    def patch(self, request, slug, batch_id):
        data = self.validated(BatchUpdateSerializer, request.data)
        batch = project_batch(project=self.project, batch_id=batch_id)
        batch = batch_threshold_set(batch=batch, user=request.user, **data)
        return Response(BatchSerializer(batch).data)
