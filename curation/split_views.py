"""The split design page (leads only): the current splits, a form for a plan, its preview
(htmx, writes nothing) and applying it, after which the page follows the leakage job.

One URL: GET shows the page (htmx: the current splits only, refreshed after an apply); POST
with action=preview or action=apply answers the design partial (htmx) or the full page. The
project is reached through `project_for_member` with the lead role (AUTHZ-1); metadata keys
typed in the form go through the same allowlist as the API's (curation.splits.KEY_PATTERN).
"""

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods
from django_htmx.http import trigger_client_event

from curation.access import project_for_member
from curation.forms import add_service_errors
from curation.models import Role
from curation.splits import (
    MAX_SEED,
    FrozenTestMove,
    metadata_keys,
    split_apply,
    split_current,
    split_plan,
    split_preview,
)
from curation.splitting import METHODS
from curation.views import _job_context

TEMPLATE = "curation/splits.html"
ACTIONS = ("preview", "apply")
METHOD_LABELS = {
    "random": "Random",
    "stratified": "Stratified by final label",
    "time": "Time-based (older in train, newer in test)",
}


class SplitForm(forms.Form):
    """The plan as a lead types it: ratios in percent (they must add up to 100)."""

    method = forms.ChoiceField(choices=[(m, METHOD_LABELS[m]) for m in METHODS],
                               initial="stratified")  # fmt: skip
    train = forms.FloatField(label="Train %", min_value=0, max_value=100, initial=80)
    dev = forms.FloatField(label="Dev %", min_value=0, max_value=100, initial=10)
    test = forms.FloatField(label="Test %", min_value=0, max_value=100, initial=10)
    seed = forms.IntegerField(min_value=0, max_value=MAX_SEED, initial=42,
                              help_text="The same seed and items give the same split.")  # fmt: skip
    keep_clusters = forms.BooleanField(
        label="Keep near-duplicate clusters together", required=False, initial=True,
        help_text="Clusters from the latest near-duplicate job.",
    )  # fmt: skip
    keep_group = forms.BooleanField(label="Keep items with the same metadata key together",
                                    required=False)  # fmt: skip
    group_key = forms.CharField(label="Metadata key", required=False, max_length=64,
                                help_text="For example customer_id or conversation.")  # fmt: skip
    date_field = forms.CharField(label="Date field (time-based)", required=False, max_length=64,
                                 help_text="A metadata key holding an ISO 8601 date.")  # fmt: skip
    confirm_frozen_test = forms.BooleanField(required=False)

    def __init__(self, *args, keys=(), **kwargs):
        super().__init__(*args, **kwargs)
        for name in ("group_key", "date_field"):
            self.fields[name].widget.attrs["list"] = "metadata-keys"
        self.keys = list(keys)

    def clean(self):
        data = super().clean()
        if data.get("keep_group") and not data.get("group_key"):
            self.add_error("group_key", "Name the metadata key that keeps items together.")
        if self.errors:
            return data
        ratios = {name: data[name] / 100 for name in ("train", "dev", "test")}
        try:
            data["plan"] = split_plan(
                method=data["method"], ratios=ratios, seed=data["seed"],
                keep_clusters=data["keep_clusters"],
                group_key=data["group_key"] if data["keep_group"] else "",
                date_field=data["date_field"] if data["method"] == "time" else "",
            )  # fmt: skip
        except ValidationError as problem:
            if "ratios" in problem.message_dict:
                raise ValidationError("The percentages must add up to 100.") from None
            add_service_errors(self, problem)
        return data


def _context(project, form, **extra) -> dict:
    return {"project": project, "form": form, "keys": form.keys, **extra}


@require_http_methods(["GET", "POST"])
@login_required
def splits(request, slug):
    """The split design page; see the module docstring for what each request answers."""
    project = project_for_member(user=request.user, slug=slug, role=Role.LEAD)
    keys = metadata_keys(project=project)
    if request.method == "GET":
        context = {"project": project, "current": split_current(project=project)}
        if request.htmx:
            return render(request, TEMPLATE + "#split-current", context)
        return render(request, TEMPLATE, {**context, **_context(project, SplitForm(keys=keys))})
    form = SplitForm(request.POST, keys=keys)
    action = request.POST.get("action")
    if action not in ACTIONS:
        form.add_error(None, "Choose Preview or Apply.")
    if not form.is_valid():
        return _design(request, project, _context(project, form))
    plan = form.cleaned_data["plan"]
    if action == "preview":
        preview = split_preview(project=project, plan=plan)
        return _design(request, project, _context(project, form, preview=preview))
    return _apply(request, project, form, plan)


def _apply(request, project, form, plan):
    confirmed = form.cleaned_data["confirm_frozen_test"]
    try:
        summary, run = split_apply(project=project, user=request.user, plan=plan,
                                   confirm_frozen_test=confirmed)  # fmt: skip
    except FrozenTestMove as refused:
        preview = split_preview(project=project, plan=plan)
        form.add_error("confirm_frozen_test", str(refused))
        return _design(request, project, _context(project, form, preview=preview))
    if not request.htmx:
        messages.success(request, f"Splits applied: {summary['changed']:,} items moved.")
        return redirect(reverse("curation:job_status", args=[project.slug, run.pk]))
    run.refresh_from_db()  # a job run in-process has finished by now
    context = {**_job_context(project, run), **_context(project, form, applied=summary)}
    response = render(request, TEMPLATE + "#split-design", context)
    return trigger_client_event(response, "splits-applied")


def _design(request, project, context):
    """The design partial (htmx), or the whole page around it; invalid input answers 200, as
    htmx does not swap 4xx responses."""
    if request.htmx:
        return render(request, TEMPLATE + "#split-design", context)
    return render(request, TEMPLATE, {**context, "current": split_current(project=project)})
