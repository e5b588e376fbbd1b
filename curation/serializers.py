"""The JSON the API reads and writes. Input serializers check shape only; services do the writes.

Input serializers reject keys they do not know, so a typo (or an attempt to set `slug`, `role`
or `is_superuser` where it is not accepted) is a 400 naming the key instead of being ignored.
"""

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers

from curation.exporting import FORMATS as EXPORT_FORMATS
from curation.exporting import MODES as EXPORT_MODES
from curation.importing.readers import FORMATS as IMPORT_FORMATS
from curation.models import Item, JobRun, Membership, Project, Role, Split
from curation.selectors import progress_percent

User = get_user_model()


class StrictSerializer(serializers.Serializer):
    """A serializer that refuses unknown keys."""

    def to_internal_value(self, data):
        if isinstance(data, dict):
            unknown = sorted(set(data) - {n for n, f in self.fields.items() if not f.read_only})
            if unknown:
                raise serializers.ValidationError(
                    {key: ["Unknown field; it cannot be set here."] for key in unknown}
                )
        return super().to_internal_value(data)


class ErrorSerializer(serializers.Serializer):
    """The shape of every error response (documentation only)."""

    detail = serializers.CharField()
    errors = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()), required=False
    )


# --- projects ---------------------------------------------------------------------------------


class ProjectSerializer(serializers.ModelSerializer):
    # A plain string: an enum here would be a second name for RoleEnum in the schema.
    my_role = serializers.CharField(read_only=True, help_text="annotator, reviewer or lead")
    n_items = serializers.IntegerField(read_only=True)
    n_annotations = serializers.IntegerField(read_only=True)
    n_members = serializers.IntegerField(read_only=True)
    progress_percent = serializers.SerializerMethodField()

    class Meta:
        model = Project
        fields = [
            "slug",
            "name",
            "description",
            "guidelines",
            "annotators_per_item",
            "archived",
            "my_role",
            "n_items",
            "n_annotations",
            "n_members",
            "progress_percent",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_progress_percent(self, project) -> int:
        return progress_percent(project)


class ProjectCreateSerializer(StrictSerializer):
    name = serializers.CharField(max_length=200)
    slug = serializers.SlugField(max_length=80)
    description = serializers.CharField(required=False, allow_blank=True)
    guidelines = serializers.CharField(required=False, allow_blank=True)
    annotators_per_item = serializers.IntegerField(required=False, min_value=1, max_value=50)


class ProjectUpdateSerializer(StrictSerializer):
    name = serializers.CharField(max_length=200, required=False)
    description = serializers.CharField(required=False, allow_blank=True)
    guidelines = serializers.CharField(required=False, allow_blank=True)
    annotators_per_item = serializers.IntegerField(required=False, min_value=1, max_value=50)
    archived = serializers.BooleanField(required=False)


# --- members ----------------------------------------------------------------------------------


class MembershipSerializer(serializers.ModelSerializer):
    username = serializers.CharField(source="user.username", read_only=True)

    class Meta:
        model = Membership
        fields = ["username", "role", "created_at"]
        read_only_fields = fields


class MembershipCreateSerializer(StrictSerializer):
    username = serializers.CharField(max_length=150)
    role = serializers.ChoiceField(choices=Role.choices)


class MembershipUpdateSerializer(StrictSerializer):
    role = serializers.ChoiceField(choices=Role.choices)


# --- items ------------------------------------------------------------------------------------


class ItemSerializer(serializers.ModelSerializer):
    class Meta:
        model = Item
        fields = ["id", "external_id", "data", "metadata", "split", "source", "created_at"]
        read_only_fields = fields


class ItemCreateSerializer(StrictSerializer):
    """One row of a bulk create. A missing or empty `external_id` gets a random one."""

    external_id = serializers.CharField(max_length=255, required=False, allow_blank=True)
    data = serializers.JSONField(help_text='The content to label, e.g. {"text": "..."}.')
    metadata = serializers.JSONField(required=False, default=dict)
    split = serializers.ChoiceField(choices=Split.choices, required=False, default=Split.UNASSIGNED)
    source = serializers.CharField(max_length=32, required=False, allow_blank=True, default="")

    def validate_data(self, value):
        if not isinstance(value, dict) or not value:
            raise serializers.ValidationError('Must be a non-empty object, e.g. {"text": "..."}.')
        if "text" in value and not isinstance(value["text"], str):
            raise serializers.ValidationError('"text" must be a string.')
        return value

    def validate_metadata(self, value):
        if not isinstance(value, dict):
            raise serializers.ValidationError("Must be an object.")
        return value


# The only orderings the item list accepts; the values, never the user's string, reach order_by.
ITEM_ORDERINGS = {
    "id": ("id",),
    "-id": ("-id",),
    "created_at": ("created_at", "id"),
    "-created_at": ("-created_at", "-id"),
    "external_id": ("external_id",),
    "-external_id": ("-external_id",),
}


class ItemFilterSerializer(serializers.Serializer):
    """Query parameters of the item list (besides `page` and `page_size`)."""

    split = serializers.ChoiceField(choices=Split.choices, required=False)
    source = serializers.CharField(max_length=32, required=False)
    external_id = serializers.CharField(max_length=255, required=False)
    q = serializers.CharField(
        max_length=200, required=False, help_text="Items whose text contains this (≤ 200 chars)."
    )
    ordering = serializers.ChoiceField(choices=list(ITEM_ORDERINGS), required=False, default="id")


class ItemBulkCreatedSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    ids = serializers.ListField(child=serializers.IntegerField())


# --- jobs -------------------------------------------------------------------------------------


class JobRunSerializer(serializers.ModelSerializer):
    project = serializers.SlugRelatedField(slug_field="slug", read_only=True)

    class Meta:
        model = JobRun
        fields = [
            "id",
            "project",
            "kind",
            "status",
            "progress",
            "counts",
            "errors",
            "error_count",
            "message",
            "cancel_requested",
            "created_at",
            "started_at",
            "finished_at",
        ]
        read_only_fields = fields


class JobRunConflictSerializer(serializers.Serializer):
    """409: the project already has a run of this kind under way (documentation only)."""

    detail = serializers.CharField()
    job = JobRunSerializer()


# --- import and export ------------------------------------------------------------------------


def _mapping_field(help_text: str):
    return serializers.CharField(
        max_length=200, required=False, allow_blank=True, default="", help_text=help_text
    )


class ImportCreateSerializer(StrictSerializer):
    """Multipart form fields of an import; every field but `file` is optional."""

    file = serializers.FileField(help_text="JSONL, CSV, JSON, Parquet or Label Studio JSON.")
    format = serializers.ChoiceField(
        choices=["", *IMPORT_FORMATS],
        required=False,
        default="",
        help_text="Leave out to tell it from the file name.",
    )
    text_field = _mapping_field("Field holding the text (default: text).")
    id_field = _mapping_field("Field holding the item id (default: id).")
    split_field = _mapping_field("Field holding the split (default: split).")
    source_field = _mapping_field("Field holding the source (default: source).")
    annotations_field = _mapping_field("Field holding annotations (default: annotations).")
    prediction_field = _mapping_field("Field holding a model prediction (default: prediction).")
    data_fields = serializers.ListField(
        child=serializers.CharField(max_length=200),
        required=False,
        max_length=100,
        help_text="Fields that together make the item's data, instead of one text field.",
    )
    metadata_fields = serializers.ListField(
        child=serializers.CharField(max_length=200),
        required=False,
        max_length=100,
        help_text="Fields kept as metadata (default: every field not used otherwise).",
    )
    default_source = serializers.CharField(
        max_length=32, required=False, allow_blank=True, default=""
    )
    skip_invalid = serializers.BooleanField(
        required=False, default=False, help_text="Import the good rows, report the others."
    )
    skip_duplicates = serializers.BooleanField(
        required=False, default=False, help_text="Leave out rows whose text is already there."
    )

    MAPPING = {
        "text_field": "text",
        "id_field": "id",
        "split_field": "split",
        "source_field": "source",
        "annotations_field": "annotations",
        "prediction_field": "prediction",
        "data_fields": "data_fields",
        "metadata_fields": "metadata_fields",
        "default_source": "default_source",
    }

    def options(self) -> dict:
        """The options of `import_start`, from the validated data."""
        data = self.validated_data
        mapping = {key: data.get(name) for name, key in self.MAPPING.items()}
        return {
            "format": data["format"],
            "mapping": {key: value for key, value in mapping.items() if value},
            "skip_invalid": data["skip_invalid"],
            "skip_duplicates": data["skip_duplicates"],
        }


class ExportCreateSerializer(StrictSerializer):
    format = serializers.ChoiceField(choices=EXPORT_FORMATS)
    mode = serializers.ChoiceField(
        choices=EXPORT_MODES,
        default="final",  # as the command line's
        help_text="final (the default): one record per item; annotations: one record per "
        "annotation.",
    )


# --- users ------------------------------------------------------------------------------------


class UserSerializer(serializers.ModelSerializer):
    class Meta:
        model = User
        fields = ["id", "username", "email", "is_staff", "is_active", "date_joined", "last_login"]
        read_only_fields = fields


class UserCreateSerializer(StrictSerializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(
        write_only=True,
        required=False,
        allow_null=True,
        trim_whitespace=False,
        style={"input_type": "password"},
        help_text="Leave out to create an account that cannot sign in with a password.",
    )
    email = serializers.EmailField(required=False, allow_blank=True, default="")
    is_staff = serializers.BooleanField(required=False, default=False)

    def validate(self, attrs):
        password = attrs.get("password")
        if password:
            probe = User(username=attrs["username"], email=attrs.get("email", ""))
            try:
                validate_password(password, user=probe)
            except DjangoValidationError as exc:
                raise serializers.ValidationError({"password": list(exc.messages)}) from None
        return attrs
