"""The API of the distribution analysis: the final labels' distribution with a breakdown by a
metadata field and its chi-square test, the comparison with a reference sample, and the
reference samples themselves (list, upload, delete).

Projects are reached through `HasProjectRole` (404 for non-members, 403 below the role),
references through their project (AUTHZ-1); query parameters are checked against allowlists
(QRY-1). The figures are the distribution page's (curation.distribution_data), so the page and
the API cannot drift apart.
"""

from django.http.multipartparser import MultiPartParserError
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from curation import serializers as s
from curation.api import ERRORS, ConcordApi, MalformedUpload, UploadParser, UploadTooLarge
from curation.distribution_data import (
    FIELD_PATTERN,
    Source,
    comparison_summary,
    distribution_reference_create,
    distribution_reference_delete,
    distribution_summary,
    project_reference,
    project_references,
)
from curation.distribution_views import (
    FIELD_MESSAGE,
    limit_reference_uploads,
    reference_declared_too_big,
    reference_too_big_message,
)
from curation.models import DistributionReference, Role, Split
from curation.permissions import HasProjectRole

# --- serializers ------------------------------------------------------------------------------


class SourceQuerySerializer(serializers.Serializer):
    version = serializers.IntegerField(
        required=False,
        min_value=1,
        help_text="A frozen version's number; the live project if absent.",
    )
    split = serializers.ChoiceField(
        choices=Split.values, required=False, default="", help_text="Only items of this split."
    )


class DistributionQuerySerializer(SourceQuerySerializer):
    by = serializers.RegexField(
        FIELD_PATTERN,
        required=False,
        default="",
        error_messages={"invalid": FIELD_MESSAGE},
        help_text="A metadata field to break the labels down by (with a chi-square test).",
    )


class CompareQuerySerializer(SourceQuerySerializer):
    reference = serializers.IntegerField(help_text="The reference sample's id.")


class DistributionReferenceSerializer(serializers.ModelSerializer):
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = DistributionReference
        fields = ["id", "name", "filename", "field", "counts", "total", "created_by",
                  "created_at"]  # fmt: skip
        read_only_fields = fields


class DistributionReferenceCreateSerializer(s.StrictSerializer):
    """Multipart form fields of a reference upload."""

    file = serializers.FileField(help_text="CSV with a header row, or JSON Lines (.jsonl).")
    field = serializers.RegexField(
        FIELD_PATTERN,
        error_messages={"invalid": FIELD_MESSAGE},
        help_text='What it is compared with: "label" (the final label) or a metadata field.',
    )
    name = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    column = serializers.CharField(
        max_length=200,
        required=False,
        allow_blank=True,
        default="",
        help_text="The file's column holding each category; `field` if empty.",
    )


def _source(project, query: dict) -> Source:
    """The source the query names; an unknown version is a 400 naming `version`."""
    version = None
    if query.get("version") is not None:
        version = project.versions.filter(number=query["version"]).first()
        if version is None:
            raise ValidationError({"version": [f"No version {query['version']} in this project."]})
    return Source(project, version, query.get("split", ""))


# --- views ------------------------------------------------------------------------------------


class DistributionApi(ConcordApi):
    """The final labels' counts and shares; with `by`, the label × field contingency table with
    Pearson's chi-square test (no Yates correction), Cramér's V, adjusted residuals and
    Cochran's warning (reviewer, lead)."""

    permission_classes = [IsAuthenticated, HasProjectRole]
    project_roles = {"GET": Role.REVIEWER}
    query_serializer_class = DistributionQuerySerializer

    @extend_schema(
        summary="Label distribution and breakdown by a metadata field (reviewer, lead)",
        parameters=[DistributionQuerySerializer],
        responses={200: OpenApiTypes.OBJECT, **ERRORS},
    )
    def get(self, request, slug):
        source = _source(self.project, self.query)
        return Response(distribution_summary(source, by=self.query.get("by", "")))


class DistributionCompareApi(ConcordApi):
    """The dataset against a reference sample: Jensen–Shannon divergence in bits and each
    category's shares with its over/under-represented flag (reviewer, lead)."""

    permission_classes = [IsAuthenticated, HasProjectRole]
    project_roles = {"GET": Role.REVIEWER}
    query_serializer_class = CompareQuerySerializer

    @extend_schema(
        summary="Compare the dataset with a reference sample (reviewer, lead)",
        parameters=[CompareQuerySerializer],
        responses={200: OpenApiTypes.OBJECT, **ERRORS},
    )
    def get(self, request, slug):
        source = _source(self.project, self.query)
        reference = project_reference(project=self.project, reference_id=self.query["reference"])
        return Response(comparison_summary(source, reference))


class DistributionReferenceListApi(ConcordApi):
    """The project's reference samples (reviewer, lead); upload one (lead): a CSV or JSON Lines
    file whose column's values are counted. Only the counts are kept."""

    permission_classes = [IsAuthenticated, HasProjectRole]
    project_roles = {"GET": Role.REVIEWER, "POST": Role.LEAD}
    parser_classes = [UploadParser]
    serializer_class = DistributionReferenceSerializer
    is_list = True

    def initial(self, request, *args, **kwargs):
        if request.method == "POST":
            if reference_declared_too_big(request):
                raise UploadTooLarge(reference_too_big_message())
            self.upload_limit = limit_reference_uploads(request._request)
        try:
            super().initial(request, *args, **kwargs)
        except MultiPartParserError:
            raise MalformedUpload from None

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return DistributionReference.objects.none()
        return project_references(project=self.project)

    @extend_schema(
        summary="Reference samples (reviewer, lead)",
        responses=DistributionReferenceSerializer(many=True),
    )
    def get(self, request, slug):
        return self.paginated(self.get_queryset(), DistributionReferenceSerializer)

    @extend_schema(
        summary="Upload a reference sample (lead)",
        request={"multipart/form-data": DistributionReferenceCreateSerializer},
        responses={201: DistributionReferenceSerializer, **ERRORS, 413: s.ErrorSerializer},
    )
    def post(self, request, slug):
        data = request.data
        if self.upload_limit.exceeded:
            raise UploadTooLarge(reference_too_big_message())
        data = self.validated(DistributionReferenceCreateSerializer, data)
        reference = distribution_reference_create(
            project=self.project, user=request.user, upload=data["file"],
            filename=data["file"].name, name=data["name"], field=data["field"],
            column=data["column"],
        )  # fmt: skip
        body = DistributionReferenceSerializer(reference).data
        return Response(body, status=status.HTTP_201_CREATED)


class DistributionReferenceDetailApi(ConcordApi):
    """Delete a reference sample (lead); another project's id is not found."""

    permission_classes = [IsAuthenticated, HasProjectRole]
    project_roles = {"DELETE": Role.LEAD}
    serializer_class = DistributionReferenceSerializer

    @extend_schema(summary="Delete a reference sample (lead)", responses={204: None, **ERRORS})
    def delete(self, request, slug, reference_id):
        reference = project_reference(project=self.project, reference_id=reference_id)
        distribution_reference_delete(reference=reference, user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
