"""The label schema settings page (leads only): the kind, its config as JSON, a live preview of
the labeling buttons, and a save that refuses to orphan existing annotations.

Annotators and reviewers get 403 here, as on the project's other settings pages: they meet the
labels (with hotkeys, colours and descriptions) on the labeling page itself.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect

from annotation.forms import SchemaForm, config_text, parse_config, problem_text
from annotation.models import Annotation, LabelSchema, SchemaKind
from annotation.schemas import (
    config_problems,
    default_config,
    label_choices,
    orphaned_values,
)
from curation.access import project_for_member
from curation.forms import add_service_errors
from curation.models import Project, Role

# --- reads and writes (selector and service: they belong in selectors.py and services.py) ------


def annotation_value_counts(*, project: Project):
    """The distinct annotation values of `project` with how many annotations hold each, as rows
    {"value", "n"}: one GROUP BY query, however many annotations there are."""
    return (
        Annotation.objects.filter(item__project=project)
        .order_by()  # the model's ordering would otherwise join the GROUP BY
        .values("value")
        .annotate(n=Count("pk"))
    )


def label_schema_save(*, project: Project, kind: str, config: dict, version=None):
    """Creates or replaces the project's label schema; returns (schema, changed).

    Raises ValidationError for a config with problems, a `version` other than the stored one
    (0 = no schema yet), or a change that would leave existing annotations without a place in
    the schema (naming the labels and counts). A change bumps the version; saving what is stored
    changes nothing (idempotent). One transaction under a lock on the project's row, so of two
    saves at once the second waits, then finds a newer version than it was given.
    """
    problems = config_problems(kind, config)
    if problems:
        raise ValidationError({"config": [problem_text(f, m) for f, m in problems]})
    with transaction.atomic():
        list(Project.objects.select_for_update().filter(pk=project.pk).values_list("pk"))
        schema = LabelSchema.objects.filter(project=project).first()
        stored = schema.version if schema else 0
        if version is not None and version != stored:
            raise ValidationError(
                f"Not saved: the schema changed while you edited it (it is now version "
                f"{stored}). Reload the page to see the change, then make yours again."
            )
        if schema is not None and (schema.kind, schema.config) == (kind, config):
            return schema, False
        lost = orphaned_values(
            kind,
            schema.config if schema else None,
            config,
            annotation_value_counts(project=project).iterator(chunk_size=2000),
            old_kind=schema.kind if schema else None,
        )
        if lost:
            lead = "Not saved: existing annotations would no longer fit the schema."
            raise ValidationError([lead, *(m[0].upper() + m[1:] + "." for m in lost)])
        if schema is None:
            return LabelSchema.objects.create(project=project, kind=kind, config=config), True
        schema.kind, schema.config, schema.version = kind, config, schema.version + 1
        schema.save(update_fields=["kind", "config", "version", "updated_at"])
    return schema, True


# --- the page ---------------------------------------------------------------------------------


def _settings(config: dict) -> dict:
    """The settings the preview and the summary put in words, read leniently."""
    low, high = config.get("min"), config.get("max")
    return {
        "min": low if isinstance(low, int) and not isinstance(low, bool) and low > 0 else None,
        "max": high if isinstance(high, int) and not isinstance(high, bool) else None,
        "allow_overlap": config.get("allow_overlap") is True,
        "allow_tie": config.get("allow_tie", True) is not False,
        "reason": config.get("reason", "optional"),
    }


def preview_context(kind: str, text: str) -> dict:
    """What the preview shows for a kind and a config as typed, problems included."""
    config, unreadable = parse_config(text)
    if kind not in SchemaKind.values:
        problems = [("kind", "choose a kind of schema.")]
    elif config is None:
        problems = [("", f"The config {unreadable}")]
    else:
        problems = config_problems(kind, config)
    config = config or {}
    return {"kind": kind, "problems": problems, "choices": label_choices(kind, config),
            **_settings(config)}  # fmt: skip


def _initial(schema: LabelSchema | None) -> dict:
    kind = schema.kind if schema else SchemaKind.SINGLE_CHOICE
    config = schema.config if schema else default_config(kind)
    return {"kind": kind, "config": config_text(config), "version": schema.version if schema else 0}


def _page(request, project: Project, form: SchemaForm, *, fragment: str = ""):
    """The full page for `form` (as typed, or as first shown); for htmx its editor, or the
    `fragment` template asked for."""
    data = form.data if form.is_bound else form.initial
    context = {
        "project": project,
        "form": form,
        "preview": preview_context(str(data.get("kind", "")), str(data.get("config", ""))),
    }
    if request.htmx:
        return render(request, fragment or "annotation/schema_edit.html#schema-editor", context)
    schema = LabelSchema.objects.filter(project=project).first()
    context |= {
        "schema": schema,
        "saved_choices": label_choices(schema.kind, schema.config) if schema else [],
        "saved_settings": _settings(schema.config) if schema else {},
        "n_annotations": Annotation.objects.filter(item__project=project).count(),
    }
    return render(request, "annotation/schema_edit.html", context)


def _example(form: SchemaForm) -> SchemaForm:
    """A fresh form holding the starter config of the kind chosen (nothing is saved)."""
    kind = form.data.get("kind")
    kind = kind if kind in SchemaKind.values else SchemaKind.SINGLE_CHOICE
    version = form.data.get("version", "")
    return SchemaForm(initial={"kind": kind, "config": config_text(default_config(kind)),
                               "version": version})  # fmt: skip


@require_http_methods(["GET", "POST"])
@login_required
def schema_edit(request, slug):
    project = project_for_member(user=request.user, slug=slug, role=Role.LEAD)
    if request.method == "GET":
        schema = LabelSchema.objects.filter(project=project).first()
        return _page(request, project, SchemaForm(initial=_initial(schema)))
    form = SchemaForm(request.POST)
    if request.POST.get("action") == "example":
        return _page(request, project, _example(form))
    if form.is_valid():
        data = form.cleaned_data
        try:
            schema, changed = label_schema_save(
                project=project, kind=data["kind"], config=data["config"], version=data["version"]
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            if changed:
                messages.success(request, f"Saved the label schema (version {schema.version}).")
            else:
                messages.info(request, "The label schema was already like this: nothing changed.")
            address = reverse("annotation:schema_edit", args=[project.slug])
            return HttpResponseClientRedirect(address) if request.htmx else redirect(address)
    return _page(request, project, form)


@require_POST
@login_required
def schema_preview(request, slug):
    """The labeling buttons for the kind and config posted, with their problems; nothing is
    saved. Always 200, so that htmx swaps in the problems too."""
    project = project_for_member(user=request.user, slug=slug, role=Role.LEAD)
    form = SchemaForm(request.POST)
    return _page(request, project, form, fragment="annotation/schema_preview.html")
