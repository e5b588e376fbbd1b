"""Forms for the annotation pages. They check what was typed; the services do the writing."""

import json

from django import forms
from django.core.exceptions import ValidationError

from annotation.models import SchemaKind
from annotation.schemas import config_problems

MAX_CONFIG_CHARS = 200_000


def parse_config(text: str) -> tuple[dict | None, str]:
    """The config typed as JSON, or (None, why it cannot be read)."""
    try:
        config = json.loads(text)
    except json.JSONDecodeError as exc:
        return None, f"is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})."
    except RecursionError:
        return None, "is nested too deeply."
    if not isinstance(config, dict):
        return None, 'must be a JSON object, such as {"labels": [...]}.'
    return config, ""


def config_text(config: dict) -> str:
    """A config as the lead edits it: pretty-printed JSON, non-ASCII kept as typed."""
    return json.dumps(config, indent=2, ensure_ascii=False)


def problem_text(field: str, message: str) -> str:
    return f"{field}: {message}" if field else message


class SchemaForm(forms.Form):
    kind = forms.ChoiceField(choices=SchemaKind.choices)
    config = forms.CharField(
        max_length=MAX_CONFIG_CHARS,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 22, "spellcheck": "false", "autocomplete": "off"}),
        help_text="The schema's settings as JSON. Each label: value (required), text, hotkey "
        "(one key), color (#rrggbb) and description (shown as a tooltip).",
    )
    # The version the page was loaded at: a save over someone else's newer one is refused.
    version = forms.IntegerField(required=False, min_value=0, widget=forms.HiddenInput)

    def clean_config(self) -> dict:
        config, problem = parse_config(self.cleaned_data["config"])
        if config is None:
            raise ValidationError(f"The config {problem}")
        return config

    def clean(self):
        cleaned = super().clean()
        if "kind" in cleaned and "config" in cleaned:
            problems = config_problems(cleaned["kind"], cleaned["config"])
            if problems:
                self.add_error("config", [problem_text(f, m) for f, m in problems])
        return cleaned
