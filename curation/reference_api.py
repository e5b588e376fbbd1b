"""The API of reference sets (external evaluation sets, such as a public benchmark, to check
against the training data): list, upload and delete, with the page's permissions and services
(curation.references), so the page and the API cannot drift apart.

Reviewers and leads list and read; leads upload and delete. The project is reached through
`HasProjectRole` (404 for non-members, 403 below the role) and a set through its project
(AUTHZ-1). An upload is checked as an import is: the declared size first (413, before the body
is read), then sign-in, project and role, the declared size against the project's storage quota
(413), the size received (413), the fields (400) and an upload of the project still being read
(409). It answers 202 with the job that reads the file; that job stores the set, or names each
problem by line and field, and writes the audit event.
"""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from curation import serializers as s
from curation.api import ERRORS, ConcordApi, UploadGuard, UploadParser, _accepted
from curation.models import ReferenceSet, Role
from curation.permissions import HasProjectRole
from curation.references import (
    FORMATS,
    ReferenceBusy,
    project_reference_set,
    project_reference_sets,
    reference_open_findings,
    reference_set_delete,
    reference_upload_start,
)


class ReferenceSetSerializer(serializers.ModelSerializer):
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    open_findings = serializers.SerializerMethodField(
        help_text="Open leakage findings of this set's checks."
    )

    class Meta:
        model = ReferenceSet
        fields = ["id", "name", "filename", "text_field", "count", "created_by", "created_at",
                  "open_findings"]  # fmt: skip
        read_only_fields = fields

    def get_open_findings(self, reference: ReferenceSet) -> int:
        return self.context.get("open_findings", {}).get(reference.pk, 0)


class ReferenceUploadSerializer(s.StrictSerializer):
    """Multipart form fields of an upload; every field but `file` is optional."""

    file = serializers.FileField(help_text="JSON Lines, CSV, a JSON array or Parquet; .gz too.")
    name = serializers.CharField(
        max_length=200, required=False, allow_blank=True, default="",
        help_text="Shown in the list; the file's name if empty.",
    )  # fmt: skip
    format = serializers.ChoiceField(
        choices=["", *FORMATS], required=False, default="",
        help_text="Leave out to tell it from the file name.",
    )  # fmt: skip
    text_field = serializers.CharField(
        max_length=200, required=False, allow_blank=True, default="",
        help_text="The field or column holding each text (default: text).",
    )  # fmt: skip
    id_field = serializers.CharField(
        max_length=200, required=False, allow_blank=True, default="",
        help_text="The field naming each text; without it a text is named by its line.",
    )  # fmt: skip


class ReferenceSetListCreateApi(UploadGuard, ConcordApi):
    """The project's reference sets, newest first (reviewer, lead); upload a new one (lead)."""

    permission_classes = [IsAuthenticated, HasProjectRole]
    project_roles = {"GET": Role.REVIEWER, "POST": Role.LEAD}
    serializer_class = ReferenceSetSerializer
    is_list = True

    def get_parsers(self):
        if self.request is not None and self.request.method == "POST":
            return [UploadParser()]
        return super().get_parsers()

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation has no project
            return ReferenceSet.objects.none()
        return project_reference_sets(project=self.project)

    @extend_schema(
        summary="The project's reference sets (reviewer, lead)",
        responses=ReferenceSetSerializer(many=True),
    )
    def get(self, request, slug):
        page = self.paginate_queryset(self.get_queryset())
        context = {"open_findings": reference_open_findings(project=self.project)}
        data = ReferenceSetSerializer(page, many=True, context=context).data
        return self.get_paginated_response(data)

    @extend_schema(
        summary="Upload a reference set, read by a job (lead)",
        request={"multipart/form-data": ReferenceUploadSerializer},
        responses={
            202: s.JobRunSerializer,
            **ERRORS,
            409: s.JobRunConflictSerializer,
            413: s.ErrorSerializer,
        },
    )
    def post(self, request, slug):
        body = request.data  # read here, through the limits
        self.refuse_oversize()
        data = self.validated(ReferenceUploadSerializer, body)
        upload = data["file"]
        try:
            run = reference_upload_start(
                project=self.project, user=request.user, source=upload, filename=upload.name,
                name=data["name"], fmt=data["format"], text_field=data["text_field"],
                id_field=data["id_field"],
            )  # fmt: skip
        except ReferenceBusy as busy:
            body = {"detail": str(busy), "job": s.JobRunSerializer(busy.run).data}
            return Response(body, status=status.HTTP_409_CONFLICT)
        return _accepted(run)


class ReferenceSetDetailApi(ConcordApi):
    """One reference set (reviewer, lead); delete it with its texts and the open findings of its
    checks (lead). Findings a lead resolved stay."""

    permission_classes = [IsAuthenticated, HasProjectRole]
    project_roles = {"GET": Role.REVIEWER, "DELETE": Role.LEAD}
    serializer_class = ReferenceSetSerializer

    @extend_schema(summary="One reference set", responses={200: ReferenceSetSerializer, **ERRORS})
    def get(self, request, slug, set_id):
        reference = project_reference_set(project=self.project, set_id=set_id)
        context = {"open_findings": reference_open_findings(project=self.project)}
        return Response(ReferenceSetSerializer(reference, context=context).data)

    @extend_schema(summary="Delete a reference set (lead)", responses={204: None, **ERRORS})
    def delete(self, request, slug, set_id):
        reference = project_reference_set(project=self.project, set_id=set_id)
        reference_set_delete(reference_set=reference)
        return Response(status=status.HTTP_204_NO_CONTENT)
