"""The API of dataset versions: list and freeze, one version with its card, the card's edit
(409 on a stale revision), the zip download, and the diff of two versions.

Projects are reached through `HasProjectRole` (404 for non-members, 403 below the role):
reviewers and leads read, leads freeze and edit cards. Query parameters go through allowlists.
"""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import APIException, ValidationError
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from curation import serializers as s
from curation.api import ERRORS, ConcordApi, _accepted
from curation.cards import card_markdown
from curation.models import DatasetVersion, Role
from curation.permissions import HasProjectRole
from curation.version_views import version_zip_response
from curation.versions import (
    KINDS,
    CardConflict,
    card_revision,
    diff_entries,
    project_version,
    project_versions,
    version_card_update,
    version_diff,
    version_freeze_start,
)
from curation.versions.cards import MAX_SECTION
from curation.versions.freeze import MAX_NOTE

MAX_DIFF_LIMIT = 1000
CONFLICT = {409: s.ErrorSerializer}


class CardConflictError(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"


# --- serializers ------------------------------------------------------------------------------


class VersionSerializer(serializers.ModelSerializer):
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = DatasetVersion
        fields = ["number", "note", "created_by", "created_at", "content_hash", "item_count"]
        read_only_fields = fields


class VersionDetailSerializer(VersionSerializer):
    card_revision = serializers.SerializerMethodField(
        help_text="Send it back with a card edit; a stale one is a 409."
    )
    card = serializers.SerializerMethodField(help_text="The dataset card (README.md).")

    class Meta(VersionSerializer.Meta):
        fields = [*VersionSerializer.Meta.fields, "summary", "card_sections", "card_updated_at",
                  "card_revision", "card"]  # fmt: skip
        read_only_fields = fields

    def get_card_revision(self, version) -> str:
        return card_revision(version)

    def get_card(self, version) -> str:
        return card_markdown(version)


class FreezeSerializer(s.StrictSerializer):
    note = serializers.CharField(max_length=MAX_NOTE, required=False, allow_blank=True, default="")


def _section(help_text: str):
    return serializers.CharField(
        max_length=MAX_SECTION, required=False, allow_blank=True, help_text=help_text
    )


class CardUpdateSerializer(s.StrictSerializer):
    """The card's lead-written sections; what is left out is kept."""

    revision = serializers.CharField(
        allow_blank=True, help_text='card_revision as read ("" for a card never edited).'
    )
    motivation = _section("Why the dataset exists (Markdown).")
    collection = _section("How the items were collected and labelled (Markdown).")
    limitations = _section("Known limitations (Markdown).")
    uses = _section("Intended uses (Markdown).")
    out_of_scope = _section("Out-of-scope uses (Markdown).")
    license = serializers.CharField(max_length=64, required=False, help_text="e.g. cc-by-4.0")
    language = serializers.ListField(
        child=serializers.CharField(max_length=20), required=False, max_length=20,
        help_text="Language codes, e.g. [\"en\", \"de\"].",
    )  # fmt: skip


class DiffQuerySerializer(serializers.Serializer):
    """Query parameters of the diff."""

    to = serializers.IntegerField(min_value=1, help_text="The newer version's number.")
    limit = serializers.IntegerField(
        min_value=0, max_value=MAX_DIFF_LIMIT, required=False, default=100,
        help_text=f"Entries of each kind (at most {MAX_DIFF_LIMIT}).",
    )  # fmt: skip
    offset = serializers.IntegerField(min_value=0, required=False, default=0)

    def get_fields(self):
        fields = super().get_fields()
        # "from" is a Python keyword: declared here instead of as a class attribute.
        fields["from"] = serializers.IntegerField(min_value=1, help_text="The older version.")
        return fields


class DiffSerializer(serializers.Serializer):
    """The diff (documentation only)."""

    to = serializers.IntegerField()

    def get_fields(self):
        return {"from": serializers.IntegerField(), **super().get_fields()}

    counts = serializers.DictField(child=serializers.IntegerField())
    labels = serializers.ListField(child=serializers.DictField())
    added = serializers.ListField(child=serializers.DictField())
    removed = serializers.ListField(child=serializers.DictField())
    relabeled = serializers.ListField(child=serializers.DictField())
    moved = serializers.ListField(child=serializers.DictField())
    limit = serializers.IntegerField()
    offset = serializers.IntegerField()


# --- views ------------------------------------------------------------------------------------


class VersionListCreateApi(ConcordApi):
    """The project's versions, newest first (reviewer, lead); POST freezes a new one (lead)."""

    permission_classes = [IsAuthenticated, HasProjectRole]
    project_roles = {"GET": Role.REVIEWER, "POST": Role.LEAD}
    serializer_class = VersionSerializer
    is_list = True

    @extend_schema(summary="Versions of a project (reviewer, lead)",
                   responses=VersionSerializer(many=True))  # fmt: skip
    def get(self, request, slug):
        return self.paginated(project_versions(project=self.project), VersionSerializer)

    @extend_schema(
        summary="Freeze a new version (lead)",
        description="Starts the freeze job; follow it at the Location given. The project's "
        "freeze under way, if there is one, is returned instead of a new one.",
        request=FreezeSerializer,
        responses={202: s.JobRunSerializer, **ERRORS},
    )
    def post(self, request, slug):
        data = self.validated(FreezeSerializer, request.data)
        return _accepted(version_freeze_start(project=self.project, user=request.user,
                                              note=data["note"]))  # fmt: skip


class VersionDetailApi(ConcordApi):
    """One version: its figures, hash, card sections and card (reviewer, lead)."""

    permission_classes = [IsAuthenticated, HasProjectRole]
    project_roles = {"GET": Role.REVIEWER}
    serializer_class = VersionDetailSerializer

    @extend_schema(summary="One version", responses={200: VersionDetailSerializer, **ERRORS})
    def get(self, request, slug, number):
        version = project_version(project=self.project, number=number)
        return Response(VersionDetailSerializer(version).data)


class VersionCardApi(ConcordApi):
    """The version's dataset card: read it (reviewer, lead) or change the sections a lead
    writes (lead), giving the revision read; a card changed since is a 409."""

    permission_classes = [IsAuthenticated, HasProjectRole]
    project_roles = {"GET": Role.REVIEWER, "PATCH": Role.LEAD}
    serializer_class = CardUpdateSerializer

    @extend_schema(summary="A version's card", responses={200: VersionDetailSerializer, **ERRORS})
    def get(self, request, slug, number):
        version = project_version(project=self.project, number=number)
        return Response(VersionDetailSerializer(version).data)

    @extend_schema(
        summary="Edit a version's card (lead)",
        request=CardUpdateSerializer,
        responses={200: VersionDetailSerializer, **ERRORS, **CONFLICT},
    )
    def patch(self, request, slug, number):
        version = project_version(project=self.project, number=number)
        data = dict(self.validated(CardUpdateSerializer, request.data))
        revision = data.pop("revision")
        try:
            version = version_card_update(version=version, user=request.user, sections=data,
                                          revision=revision)  # fmt: skip
        except CardConflict as conflict:
            raise CardConflictError(str(conflict)) from None
        return Response(VersionDetailSerializer(version).data)


class VersionDownloadApi(ConcordApi):
    """The version's export as a zip: README.md and data/<split>.jsonl (reviewer, lead). The
    same version always gives the same bytes."""

    permission_classes = [IsAuthenticated, HasProjectRole]
    project_roles = {"GET": Role.REVIEWER}
    serializer_class = None

    @extend_schema(summary="Download a version (zip)",
                   responses={(200, "application/zip"): OpenApiTypes.BINARY, **ERRORS})  # fmt: skip
    def get(self, request, slug, number):
        return version_zip_response(project_version(project=self.project, number=number),
                                    user=request.user)  # fmt: skip


class VersionDiffApi(ConcordApi):
    """What changed from version `from` to version `to`: counts per kind, the label
    distributions, and `limit` entries of each kind from `offset` (reviewer, lead)."""

    permission_classes = [IsAuthenticated, HasProjectRole]
    project_roles = {"GET": Role.REVIEWER}
    serializer_class = DiffSerializer
    query_serializer_class = DiffQuerySerializer

    @extend_schema(summary="Differences between two versions", parameters=[DiffQuerySerializer],
                   responses={200: DiffSerializer, **ERRORS})  # fmt: skip
    def get(self, request, slug):
        query = self.query
        old = project_version(project=self.project, number=query["from"])
        new = project_version(project=self.project, number=query["to"])
        if old.pk == new.pk:
            raise ValidationError({"to": ["Choose two different versions."]})
        diff = version_diff(old=old, new=new)
        limit, offset = query["limit"], query["offset"]
        body = {"from": old.number, "to": new.number, "counts": diff.counts,
                "labels": diff.labels, "limit": limit, "offset": offset}  # fmt: skip
        for kind in KINDS:
            body[kind] = diff_entries(old, new, kind, limit=limit, offset=offset)
        return Response(body)
