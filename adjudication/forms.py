"""Forms of the review pages. They read and check what was typed; the services write, and a
service's ValidationError is put back on the form under the field it concerns."""

import json
import math

from django import forms
from django.core.exceptions import ValidationError

from adjudication.models import ReviewPolicy

# The choice that takes the decision from the "write a new value" box instead of a button.
WRITE = "write"
MAX_JSON_CHARS = 200_000
MAX_SECONDS = 24 * 3600


def parse_json(raw: str):
    """The JSON value in `raw`; ValueError (with a readable message) when it is not JSON.
    NaN and Infinity are refused: they are not JSON, and PostgreSQL cannot store them."""

    def refuse(name):
        raise ValueError(f"{name} is not a JSON value")

    return json.loads(raw, parse_constant=refuse)


def value_errors(form: forms.Form, field: str, exc: ValidationError) -> None:
    """Puts a schema check's errors ({"value": …, "value.spans[0].end": …}) on `field`, each
    message naming the part of the value it is about."""
    if not hasattr(exc, "error_dict"):
        form.add_error(field, exc.messages)
        return
    for key, messages in exc.message_dict.items():
        where = key.removeprefix("value").lstrip(".")
        form.add_error(field, [f"{where}: {m}" if where else m for m in messages])


class DecisionForm(forms.Form):
    """A reviewer's decision. `value` is the JSON of the chosen button, or WRITE to take the
    box `new_value`; the schema check is the service's."""

    value = forms.CharField(
        max_length=MAX_JSON_CHARS,
        strip=False,
        error_messages={"required": "Choose a value first: one the annotators gave, a label, "
                                    "or write a new one."},
    )  # fmt: skip
    new_value = forms.CharField(
        required=False,
        max_length=MAX_JSON_CHARS,
        label="Write a new value (JSON)",
        widget=forms.Textarea(attrs={"rows": 5, "spellcheck": "false", "data-new-value": ""}),
        help_text='For example {"labels": ["a", "b"]} or {"spans": [{"start": 0, "end": 5, '
        '"label": "ORG"}]}: offsets count characters of the text, the end is not included.',
    )
    rationale = forms.CharField(
        required=False,
        max_length=5000,
        label="Rationale",
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Why this value: it is kept with the decision. Enter starts a new line; "
        "Ctrl+Enter decides.",
    )
    guidelines_unclear = forms.BooleanField(
        required=False, label="The guidelines are unclear for this item"
    )
    guideline_comment = forms.CharField(
        required=False,
        max_length=5000,
        label="What is unclear?",
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="The project's lead sees this in the list of guideline issues.",
    )
    version = forms.IntegerField(
        min_value=1,
        widget=forms.HiddenInput,
        error_messages={"required": "The page sent no version of the review: reload it.",
                        "invalid": "The page sent a broken version number: reload it."},
    )  # fmt: skip
    seconds_spent = forms.CharField(required=False, widget=forms.HiddenInput)

    def clean_seconds_spent(self) -> float | None:
        """Seconds the item was on screen; an unreadable figure is dropped, never an error."""
        try:
            seconds = float(self.cleaned_data["seconds_spent"])
        except ValueError:
            return None
        return min(seconds, MAX_SECONDS) if math.isfinite(seconds) and seconds >= 0 else None

    def clean(self):
        data = super().clean()
        chosen = data.get("value")
        if chosen is not None:
            field = "new_value" if chosen == WRITE else "value"
            raw = data.get("new_value", "") if chosen == WRITE else chosen
            if not raw.strip():
                self.add_error(field, "Write the value as JSON, or choose one above.")
            else:
                try:
                    data["decision"] = parse_json(raw)
                except ValueError as exc:
                    self.add_error(field, f"This is not valid JSON: {exc}.")
        if data.get("guidelines_unclear") and not data.get("guideline_comment", "").strip():
            self.add_error("guideline_comment", "Say what is unclear, so the lead can fix it.")
        return data

    @property
    def value_field(self) -> str:
        """Where the schema's objections to the decision go."""
        return "new_value" if self.data.get("value") == WRITE else "value"


class RequeueForm(forms.Form):
    note = forms.CharField(
        required=False,
        max_length=2000,
        label="Note for the reviewer (optional)",
        widget=forms.TextInput(attrs={"placeholder": "e.g. the label looks wrong to me"}),
    )


class GoldForm(forms.Form):
    """Makes an item of `project` a gold item, found by the id it was imported with."""

    external_id = forms.CharField(
        max_length=255, label="Item id", help_text="The id the item was imported with."
    )
    value = forms.CharField(
        max_length=MAX_JSON_CHARS,
        label="Known answer (JSON)",
        widget=forms.Textarea(attrs={"rows": 3, "spellcheck": "false"}),
        help_text='For example {"label": "refund"}. It is checked against the label schema.',
    )

    def __init__(self, *args, project, **kwargs):
        super().__init__(*args, **kwargs)
        self.project = project

    def clean_external_id(self):
        external_id = self.cleaned_data["external_id"].strip()
        item = self.project.items.filter(external_id=external_id).first()
        if item is None:
            raise ValidationError("No item of this project has this id.")
        return item

    def clean_value(self):
        try:
            return parse_json(self.cleaned_data["value"])
        except ValueError as exc:
            raise ValidationError(f"This is not valid JSON: {exc}.") from exc


class ReviewSettingsForm(forms.ModelForm):
    """The project's review policy, and its gold rate (a field of the project)."""

    item_threshold = forms.FloatField(
        min_value=0.0,
        max_value=1.0,
        label="Item agreement needed to settle",
        help_text="For the threshold rule: the share of annotator pairs that must agree (0 to "
        "1) for an item to be settled without a reviewer.",
    )
    agreement_threshold = forms.FloatField(
        min_value=0.0,
        max_value=1.0,
        label="Reliable agreement from",
        help_text="Krippendorff's alpha from which the dashboard calls the labels reliable "
        "(0.8 is the usual bar).",
    )
    tentative_threshold = forms.FloatField(
        min_value=0.0,
        max_value=1.0,
        label="Tentative agreement from",
        help_text="Alpha from which conclusions are tentative (0.667 is the usual bar); at "
        "most the reliable bar.",
    )
    gold_rate = forms.FloatField(
        min_value=0.0,
        max_value=0.5,
        label="Gold rate",
        help_text="The share of items handed to annotators that are gold items with a known "
        "answer (0 to 0.5; 0.05 is one in twenty).",
    )

    class Meta:
        model = ReviewPolicy
        fields = [
            "rule",
            "item_threshold",
            "anonymize",
            "agreement_threshold",
            "tentative_threshold",
            "rating_level",
        ]
        labels = {
            "rule": "Which items go to a reviewer",
            "anonymize": "Hide annotators' names from reviewers",
            "rating_level": "Level of measurement of ratings",
        }
        help_texts = {
            "rule": "A new rule applies to every item not yet decided: complete ones are "
            "settled again in the background, the rest as they get their last annotation.",
            "anonymize": "Reviewers then see Annotator 1, 2, … on each item.",
            "rating_level": "For rating projects: how alpha treats the scale.",
        }

    def clean(self):
        data = super().clean()
        tentative, reliable = data.get("tentative_threshold"), data.get("agreement_threshold")
        if tentative is not None and reliable is not None and tentative > reliable:
            self.add_error("tentative_threshold", "Must be at most the reliable bar.")
        return data
