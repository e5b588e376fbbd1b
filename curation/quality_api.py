"""The API of the quality jobs and their findings, of the project's quality settings, and of
cancelling a job run.

Projects are reached through `HasProjectRole` (404 for non-members, 403 below the role), findings
through their project (AUTHZ-1); filters go through allowlists (QRY-1). Reads and actions are the
quality page's (curation.quality_views), so the page and the API cannot drift apart.
"""

from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.exceptions import NotFound
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from curation import serializers as s
from curation.access import project_for_member, projects_for
from curation.api import ERRORS, ConcordApi, _accepted
from curation.jobs import job_run_cancel
from curation.models import Finding, FindingKind, FindingStatus, JobRun, Role
from curation.permissions import HasProjectRole
from curation.quality.checks import RULES
from curation.quality.findings import finding_resolve
from curation.quality.registry import quality_job_start
from curation.quality.settings import quality_settings_for, quality_settings_update
from curation.quality_views import ACTIONS, finding_act, project_finding, project_findings

# --- serializers ------------------------------------------------------------------------------


def _enum(choices, name: str):
    """A choice field whose schema is the named enum component `name` (a plain "status" or
    "kind" enum would collide with the other apps' choice sets of that field name)."""
    schema = {"type": "string", "enum": [value for value, _ in choices]}

    @extend_schema_field(schema, component_name=name)
    class EnumField(serializers.ChoiceField):
        def __init__(self, **kwargs):
            super().__init__(choices=choices, **kwargs)

    return EnumField


FindingKindField = _enum(FindingKind.choices, "FindingKindEnum")
FindingStatusField = _enum(FindingStatus.choices, "FindingStatusEnum")


class FindingItemSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    external_id = serializers.CharField()


class FindingSerializer(serializers.ModelSerializer):
    item = FindingItemSerializer(allow_null=True, help_text="The main item, or null.")
    items = serializers.ListField(
        child=serializers.IntegerField(), help_text="Ids of the other items involved."
    )
    job = serializers.PrimaryKeyRelatedField(read_only=True, help_text="The run that found it.")
    resolved_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    kind = FindingKindField(read_only=True)
    status = FindingStatusField(read_only=True)

    class Meta:
        model = Finding
        fields = ["id", "kind", "status", "item", "items", "rule", "message", "score", "detail",
                  "job", "created_at", "resolved_by", "resolved_at", "resolution_note"]  # fmt: skip
        read_only_fields = fields


class FindingFilterSerializer(serializers.Serializer):
    """Query parameters of the findings list (besides `page` and `page_size`)."""

    kind = FindingKindField(required=False)
    status = FindingStatusField(required=False)


class QualityJobCreateSerializer(s.StrictSerializer):
    kind = serializers.CharField(max_length=40, help_text="A quality job: item_checks, …")
    params = serializers.DictField(
        required=False, default=dict, help_text="Parameters; the job's defaults fill the rest."
    )


class FindingResolveSerializer(s.StrictSerializer):
    status = FindingStatusField(help_text="fixed, dropped, not_a_problem, or open to reopen")
    note = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")


class FindingActionSerializer(s.StrictSerializer):
    action = serializers.ChoiceField(
        choices=ACTIONS,
        help_text="keep: keep one item of a near-duplicate cluster and drop the others; "
        "move: move a leaked item to train; drop: drop a leaked item.",
    )
    keep = serializers.IntegerField(required=False, help_text="With keep: the item to keep.")


def _threshold(field_class, help_text: str, **kwargs):
    return field_class(required=False, help_text=help_text, **kwargs)


class CheckSettingsSerializer(s.StrictSerializer):
    """The item checks' thresholds and rules (a PATCH may send any of them)."""

    min_chars = _threshold(serializers.IntegerField, "Shorter texts (trimmed) are too short.")
    max_chars = _threshold(serializers.IntegerField, "Longer texts are too long.")
    min_letter_share = _threshold(
        serializers.FloatField, "0 to 1: texts with a smaller share of letters are flagged."
    )
    letter_share_min_chars = _threshold(
        serializers.IntegerField, "Texts with fewer visible characters are not judged on letters."
    )
    max_char_run = _threshold(serializers.IntegerField, "A character this many times in a row.")
    max_line_repeats = _threshold(serializers.IntegerField, "A line appearing this many times.")
    repeated_line_min_chars = _threshold(
        serializers.IntegerField, "Shorter lines are not counted as repeated."
    )
    max_repeated_line_share = _threshold(
        serializers.FloatField, "0 to 1: repeated lines making up more of the text are flagged."
    )
    rules = serializers.ListField(
        child=serializers.CharField(max_length=40), required=False, max_length=50,
        help_text="The rules that run: " + ", ".join(RULES) + ".",
    )  # fmt: skip


class QualitySettingsSerializer(s.StrictSerializer):
    checks = CheckSettingsSerializer(
        required=False, help_text="The item checks' settings; what a PATCH leaves out is kept."
    )
    after_import = serializers.ListField(
        child=serializers.CharField(max_length=40), required=False, max_length=50,
        help_text="Quality job kinds to run after each successful import; a PATCH replaces it.",
    )  # fmt: skip


# --- views ------------------------------------------------------------------------------------


class QualityJobCreateApi(ConcordApi):
    """Start a quality job (lead); the project's run of that kind under way if there is one."""

    permission_classes = [IsAuthenticated, HasProjectRole]
    project_roles = {"POST": Role.LEAD}
    serializer_class = QualityJobCreateSerializer

    @extend_schema(
        summary="Start a quality job (lead)",
        request=QualityJobCreateSerializer,
        responses={202: s.JobRunSerializer, **ERRORS},
    )
    def post(self, request, slug):
        data = self.validated(QualityJobCreateSerializer, request.data)
        run = quality_job_start(
            project=self.project, kind=data["kind"], user=request.user, params=data["params"]
        )
        return _accepted(run)


class QualitySettingsApi(ConcordApi):
    """The project's quality settings: read (reviewer, lead), change (lead). Every setting is in
    the answer, defaults included."""

    permission_classes = [IsAuthenticated, HasProjectRole]
    project_roles = {"GET": Role.REVIEWER, "PATCH": Role.LEAD}
    serializer_class = QualitySettingsSerializer

    @extend_schema(
        summary="The project's quality settings (reviewer, lead)",
        responses={200: QualitySettingsSerializer, **ERRORS},
    )
    def get(self, request, slug):
        return Response(quality_settings_for(self.project))

    @extend_schema(
        summary="Change the project's quality settings (lead)",
        request=QualitySettingsSerializer,
        responses={200: QualitySettingsSerializer, **ERRORS},
    )
    def patch(self, request, slug):
        data = self.validated(QualitySettingsSerializer, request.data)
        settings = quality_settings_update(project=self.project, user=request.user,
                                           checks=data.get("checks"),
                                           after_import=data.get("after_import"))  # fmt: skip
        return Response(settings)


class FindingListApi(ConcordApi):
    """The project's findings, worst first, filtered by kind and status (reviewer, lead)."""

    permission_classes = [IsAuthenticated, HasProjectRole]
    project_roles = {"GET": Role.REVIEWER}
    serializer_class = FindingSerializer
    query_serializer_class = FindingFilterSerializer
    is_list = True

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation has no project
            return Finding.objects.none()
        query = self.query
        return project_findings(project=self.project, kind=query.get("kind", "all"),
                                status=query.get("status", "all"))  # fmt: skip

    @extend_schema(
        summary="Findings of the quality jobs (reviewer, lead)",
        parameters=[FindingFilterSerializer],
        responses=FindingSerializer(many=True),
    )
    def get(self, request, slug):
        return self.paginated(self.get_queryset(), FindingSerializer)


class FindingDetailApi(ConcordApi):
    """One finding (reviewer, lead)."""

    permission_classes = [IsAuthenticated, HasProjectRole]
    project_roles = {"GET": Role.REVIEWER}
    serializer_class = FindingSerializer

    @extend_schema(summary="One finding", responses={200: FindingSerializer, **ERRORS})
    def get(self, request, slug, finding_id):
        finding = project_finding(project=self.project, finding_id=finding_id)
        return Response(FindingSerializer(finding).data)


class FindingResolveApi(ConcordApi):
    """Mark a finding fixed, dropped or not a problem, or reopen it (lead)."""

    permission_classes = [IsAuthenticated, HasProjectRole]
    project_roles = {"POST": Role.LEAD}
    serializer_class = FindingResolveSerializer

    @extend_schema(
        summary="Resolve or reopen a finding (lead)",
        request=FindingResolveSerializer,
        responses={200: FindingSerializer, **ERRORS},
    )
    def post(self, request, slug, finding_id):
        data = self.validated(FindingResolveSerializer, request.data)
        finding = project_finding(project=self.project, finding_id=finding_id)
        finding = finding_resolve(finding=finding, user=request.user, status=data["status"],
                                  note=data["note"])  # fmt: skip
        return Response(FindingSerializer(finding).data)


class FindingActionApi(ConcordApi):
    """Keep one item of a near-duplicate cluster, or move or drop a leaked item (lead). The
    finding is resolved as fixed. An item id outside the project refuses the whole request."""

    permission_classes = [IsAuthenticated, HasProjectRole]
    project_roles = {"POST": Role.LEAD}
    serializer_class = FindingActionSerializer

    @extend_schema(
        summary="Act on a finding: keep one, move to train, drop (lead)",
        request=FindingActionSerializer,
        responses={200: FindingSerializer, **ERRORS},
    )
    def post(self, request, slug, finding_id):
        data = self.validated(FindingActionSerializer, request.data)
        finding = project_finding(project=self.project, finding_id=finding_id)
        # The action resolves this very instance: it comes back fixed, with who and when.
        finding_act(finding=finding, action=data["action"], keep=data.get("keep"),
                    user=request.user)  # fmt: skip
        return Response(FindingSerializer(finding).data)


class JobRunCancelApi(ConcordApi):
    """Ask a job run to stop (lead of its project): a queued run ends at once, a running one
    after its current step. 404 for non-members, 403 for other members."""

    permission_classes = [IsAuthenticated]
    serializer_class = s.JobRunSerializer

    @extend_schema(
        summary="Cancel a job run (lead)",
        request=None,
        responses={200: s.JobRunSerializer, **ERRORS},
    )
    def post(self, request, job_id):
        runs = JobRun.objects.filter(project__in=projects_for(user=request.user))
        run = runs.select_related("project").filter(pk=job_id).first()
        if run is None:
            raise NotFound
        project_for_member(user=request.user, slug=run.project.slug, role=Role.LEAD)
        job_run_cancel(run=run)
        run.refresh_from_db()
        return Response(s.JobRunSerializer(run).data)
