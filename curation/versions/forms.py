"""Forms of the version pages: freezing, the card's lead-written sections, choosing a diff."""

from django import forms
from django.core.exceptions import ValidationError

from curation.cards import LEAD_SECTIONS
from curation.versions.cards import MAX_SECTION, parse_languages
from curation.versions.freeze import MAX_NOTE


class FreezeForm(forms.Form):
    note = forms.CharField(
        max_length=MAX_NOTE,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="What changed since the last version, or what this one is for.",
    )


HELP = {
    "motivation": "Why this dataset exists, and who asked for it.",
    "collection": "Where the items came from and how they were chosen and labelled.",
    "limitations": "What the data does not cover; known biases and errors.",
    "uses": "What the dataset is meant for.",
    "out_of_scope": "What it must not be used for.",
}


class CardForm(forms.Form):
    """The card's lead-written sections (Markdown), its license and languages, and the revision
    the editor started from (a stale one is a conflict)."""

    revision = forms.CharField(required=False, widget=forms.HiddenInput)
    license = forms.CharField(
        max_length=64, required=False, help_text="A Hub license id: cc-by-4.0, mit, other, …"
    )
    language = forms.CharField(
        max_length=200, required=False, help_text="Language codes, comma-separated: en, de"
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for key, heading in LEAD_SECTIONS.items():
            self.fields[key] = forms.CharField(
                label=heading,
                required=False,
                max_length=MAX_SECTION,
                help_text=HELP[key] + " Markdown.",
                widget=forms.Textarea(attrs={"rows": 4}),
            )

    def clean_language(self):
        try:
            return parse_languages(self.cleaned_data["language"])
        except ValidationError as exc:
            raise ValidationError(exc.message_dict["language"]) from None

    def sections(self) -> dict:
        data = self.cleaned_data
        return {key: data[key] for key in [*LEAD_SECTIONS, "license", "language"]}


class DiffForm(forms.Form):
    """?from=N&to=M: two version numbers of the project."""

    def __init__(self, *args, numbers=(), **kwargs):
        super().__init__(*args, **kwargs)
        choices = [(n, f"v{n}") for n in numbers]
        self.fields["from"] = forms.TypedChoiceField(label="From", choices=choices, coerce=int)
        self.fields["to"] = forms.TypedChoiceField(label="To", choices=choices, coerce=int)
