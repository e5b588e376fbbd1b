"""Forms for the curation pages. They check what was typed; the services do the writing."""

from django import forms
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.core.files.uploadhandler import FileUploadHandler, StopUpload

from curation.models import Role
from curation.quality.checks import RULES
from curation.quality.registry import QUALITY_JOBS
from curation.quality.settings import MAX_WHOLE, SHARES


class ProjectForm(forms.Form):
    name = forms.CharField(max_length=200)
    slug = forms.SlugField(
        max_length=80,
        help_text="The project's web address: lowercase letters, digits and hyphens.",
    )
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}))
    guidelines = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 12}),
        help_text="Annotation guidelines in Markdown (no raw HTML).",
    )
    annotators_per_item = forms.IntegerField(
        min_value=1, max_value=50, initial=3, help_text="How many annotators label each item."
    )


class ProjectEditForm(ProjectForm):
    # The slug is the project's address for bookmarks and API clients, so it stays fixed.
    slug = None
    archived = forms.BooleanField(
        required=False, help_text="Archived projects stay readable but are marked as finished."
    )


class MemberAddForm(forms.Form):
    username = forms.CharField(
        max_length=150, widget=forms.TextInput(attrs={"autocomplete": "off"})
    )
    role = forms.ChoiceField(choices=Role.choices, initial=Role.ANNOTATOR)

    def clean_username(self):
        """The account named by the username (usernames are case-sensitive in Django)."""
        username = self.cleaned_data["username"]
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise ValidationError("No account has this username.")
        return user


class MemberRoleForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices)


class MemberRemoveForm(forms.Form):
    """No fields: it only carries the errors of a refused removal."""


def add_service_errors(form: forms.Form, exc: ValidationError) -> None:
    """Puts a service's ValidationError on `form`, under the fields it names when it has them."""
    if not hasattr(exc, "error_dict"):
        form.add_error(None, exc.messages)
        return
    for field, errors in exc.error_dict.items():
        messages = [message for error in errors for message in error.messages]
        if field in form.fields:
            form.add_error(field, messages)
        elif field == NON_FIELD_ERRORS:
            form.add_error(None, messages)
        else:
            label = field.replace("_", " ").capitalize()
            form.add_error(None, [f"{label}: {message}" for message in messages])


# --- import and export ------------------------------------------------------------------------

IMPORT_FORMATS = [
    ("", "Tell from the file name"),
    ("jsonl", "JSON Lines (.jsonl, .ndjson)"),
    ("csv", "CSV with a header row (.csv)"),
    ("json", "JSON array (.json)"),
    ("parquet", "Parquet (.parquet)"),
    ("labelstudio", "Label Studio JSON export"),
]
# Multipart boundaries and the form's other fields, on top of the file itself.
UPLOAD_OVERHEAD_BYTES = 64 * 1024


def import_limit() -> int:
    return settings.IMPORT_MAX_UPLOAD_BYTES


def too_big_message(limit: int) -> str:
    size, exact = human_bytes(limit), f"{limit:,} bytes"
    named = exact if size == exact else f"{size} ({exact})"
    return (
        f"The upload is larger than the import limit of {named}. Split the file, compress it "
        "(.gz), or ask an administrator to raise IMPORT_MAX_UPLOAD_BYTES."
    )


def human_bytes(size: int) -> str:
    """1536 -> "1.5 KB": binary units, with plain spaces (filesizeformat's are no-break)."""
    value, unit = float(size), "bytes"
    for bigger in ("KB", "MB", "GB"):
        if value < 1024:
            break
        value, unit = value / 1024, bigger
    return f"{size:,} bytes" if unit == "bytes" else f"{value:.1f} {unit}"


def declared_too_big(request) -> bool:
    """Whether the request says (Content-Length) it is over the import limit: checked before
    anything reads the body, so an oversized upload is refused without storing a byte."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return False  # Django refuses a malformed length when the body is read
    return length > import_limit() + UPLOAD_OVERHEAD_BYTES


class ImportSizeLimitHandler(FileUploadHandler):
    """Stops reading an upload once its files pass the import limit, whatever the request
    declared (a chunked body, a lying Content-Length). Put it first; the view checks
    `exceeded`. Files stream on to Django's own handlers (to disk above 2 MB)."""

    def __init__(self, request=None):
        super().__init__(request)
        self.limit, self.received, self.exceeded = import_limit(), 0, False

    def receive_data_chunk(self, raw_data, start):
        self.received += len(raw_data)
        if self.received > self.limit:
            self.exceeded = True
            # The partial temp file is closed (and so deleted). The rest of the body is read and
            # dropped, so the connection can serve the next request: at most the overhead
            # allowance, since the declared length was checked first.
            raise StopUpload(connection_reset=False)
        return raw_data

    def file_complete(self, file_size):
        return None


def limit_uploads(request) -> ImportSizeLimitHandler:
    """Puts the size limit in front of the request's upload handlers (before the body is read)."""
    handler = ImportSizeLimitHandler(request)
    request.upload_handlers = [handler, *request.upload_handlers]
    return handler


class ImportForm(forms.Form):
    file = forms.FileField(help_text="JSONL, CSV, JSON, Parquet or a Label Studio export.")
    format = forms.ChoiceField(choices=IMPORT_FORMATS, required=False, label="Format")
    text_field = forms.CharField(
        max_length=200,
        required=False,
        label="Text field",
        widget=forms.TextInput(attrs={"placeholder": "text"}),
        help_text="The field or column holding the text to label.",
    )
    id_field = forms.CharField(
        max_length=200,
        required=False,
        label="Id field",
        widget=forms.TextInput(attrs={"placeholder": "id"}),
        help_text="Rows without an id get one made from their text and line.",
    )
    default_source = forms.CharField(
        max_length=32,
        required=False,
        help_text="Source for rows that name none (for example: production, vendor).",
    )
    skip_invalid = forms.BooleanField(
        required=False,
        label="Skip invalid rows",
        help_text="Import the good rows and report the others. Off: any problem imports nothing.",
    )
    skip_duplicates = forms.BooleanField(
        required=False,
        label="Skip exact duplicates",
        help_text="Leave out rows whose text is already in the project or earlier in the file.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Lets the page refuse an oversized file before sending it (static/js/concord.js).
        limit = import_limit()
        self.fields["file"].widget.attrs.update(
            {"data-max-bytes": str(limit), "data-too-big": too_big_message(limit)}
        )

    def options(self) -> dict:
        """The options of `import_start`."""
        data = self.cleaned_data
        mapping = {
            "text": data["text_field"].strip(),
            "id": data["id_field"].strip(),
            "default_source": data["default_source"].strip(),
        }
        return {
            "format": data["format"],
            "mapping": {key: value for key, value in mapping.items() if value},
            "skip_invalid": data["skip_invalid"],
            "skip_duplicates": data["skip_duplicates"],
        }


EXPORT_FORMATS = [
    ("jsonl", "JSON Lines (.jsonl)"),
    ("csv", "CSV (.csv)"),
    ("parquet", "Parquet (.parquet), as a job only"),
]
EXPORT_MODES = [
    ("final", "One row per item, with its annotations, final label and agreement"),
    ("annotations", "One row per annotation, with its annotator"),
]
STREAMABLE_FORMATS = ("jsonl", "csv")


class ExportForm(forms.Form):
    format = forms.ChoiceField(choices=EXPORT_FORMATS, initial="jsonl")
    mode = forms.ChoiceField(choices=EXPORT_MODES, initial="final", label="Rows")
    action = forms.ChoiceField(
        choices=[("download", "Download now"), ("job", "Run as a job")],
        initial="download",
        widget=forms.HiddenInput,  # set by the button that was pressed
    )

    def clean(self):
        data = super().clean()
        if data.get("action") == "download" and data.get("format") not in STREAMABLE_FORMATS:
            self.add_error(
                "format", "Parquet is written as a file: choose Run as a job to make one."
            )
        return data


# --- quality settings -------------------------------------------------------------------------

THRESHOLD_FIELDS = {
    "min_chars": ("Minimum length", "Characters, once trimmed; shorter texts are too short."),
    "max_chars": ("Maximum length", "Characters; longer texts are too long."),
    "min_letter_share": ("Minimum share of letters", "0 to 1, of the visible characters."),
    "letter_share_min_chars": (
        "Judge the share of letters from",
        "Visible characters; shorter texts are not judged.",
    ),
    "max_char_run": ("Longest run of a character", "This many in a row is flagged."),
    "max_line_repeats": ("Repeats of a line", "A line appearing this many times is flagged."),
    "repeated_line_min_chars": (
        "Shortest line counted",
        "Characters; shorter lines (code, separators) may repeat.",
    ),
    "max_repeated_line_share": (
        "Maximum share of repeated lines",
        "0 to 1, of the text's characters.",
    ),
}


class DescribedCheckboxes(forms.CheckboxSelectMultiple):
    """Checkboxes each described by the element with id "<its id>-help" (its description)."""

    def create_option(self, name, value, label, selected, index, subindex=None, attrs=None):
        option = super().create_option(name, value, label, selected, index, subindex, attrs)
        if option["attrs"].get("id"):
            option["attrs"]["aria-describedby"] = option["attrs"]["id"] + "-help"
        return option


class QualitySettingsForm(forms.Form):
    """A project's quality settings (curation.quality.settings): a number field per threshold of
    the item checks, a checkbox per rule and per quality job to run after each import. With
    `disabled` the fields are shown read-only (to reviewers)."""

    def __init__(self, data=None, *, initial: dict, disabled: bool = False):
        checks = initial["checks"]
        super().__init__(data, initial={**checks, "after_import": initial["after_import"]},
                         auto_id="settings-%s")  # fmt: skip
        for name, (label, help_text) in THRESHOLD_FIELDS.items():
            if name in SHARES:
                field = forms.FloatField(min_value=0, max_value=1)
            else:
                low = 2 if name in ("max_char_run", "max_line_repeats") else 1
                field = forms.IntegerField(min_value=low, max_value=MAX_WHOLE)
            field.label, field.help_text = label, help_text
            self.fields[name] = field
        rules = [(name, name.replace("_", " ").capitalize()) for name in RULES]
        jobs = [(kind, spec.label) for kind, spec in QUALITY_JOBS.items() if spec.after_import]
        self.fields["rules"] = forms.MultipleChoiceField(
            choices=rules, required=False, widget=DescribedCheckboxes, label="Rules to run"
        )
        self.fields["after_import"] = forms.MultipleChoiceField(
            choices=jobs, required=False, widget=DescribedCheckboxes,
            label="Jobs to run after each import",
        )  # fmt: skip
        for field in self.fields.values():
            field.disabled = disabled

    def threshold_fields(self) -> list:
        return [self[name] for name in THRESHOLD_FIELDS]

    def changes(self) -> dict:
        """The arguments of `quality_settings_update`, from the cleaned data."""
        data = self.cleaned_data
        checks = {name: data[name] for name in THRESHOLD_FIELDS}
        return {"checks": {**checks, "rules": data["rules"]}, "after_import": data["after_import"]}

    def add_service_errors(self, exc: ValidationError) -> None:
        """The service's errors ("checks.max_chars", "after_import") on the fields they name."""
        for key, messages in exc.message_dict.items():
            name = key.removeprefix("checks.")
            self.add_error(name if name in self.fields else None, messages)
