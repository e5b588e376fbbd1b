"""The label schema page: the lead edits kind and config with a live preview; saves bump the
version and never orphan existing annotations; nobody else gets in; user text stays text."""

import json

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils.html import escape

from annotation.models import Annotation, LabelSchema
from annotation.schema_views import label_schema_save
from annotation.schemas import default_config
from tests.factories import ItemFactory

HTMX = {"HTTP_HX_REQUEST": "true"}
SINGLE = {"labels": [{"value": "ham", "hotkey": "1"}, {"value": "spam", "hotkey": "2"}]}


def edit_url(team):
    return reverse("annotation:schema_edit", args=[team.project.slug])


def preview_url(team):
    return reverse("annotation:schema_preview", args=[team.project.slug])


def posted(kind="single_choice", config=SINGLE, **extra) -> dict:
    text = config if isinstance(config, str) else json.dumps(config)
    return {"kind": kind, "config": text, **extra}


def schema_of(team, config=SINGLE, kind="single_choice"):
    return LabelSchema.objects.create(project=team.project, kind=kind, config=config)


def annotate(team, labels):
    """One single-choice annotation per label, on the project's items, by its annotators."""
    items = list(team.project.items.all())
    people = team.annotators
    rows = [
        Annotation(item=items[i % len(items)], annotator=people[i // len(items)],
                   value={"label": label})
        for i, label in enumerate(labels)
    ]  # fmt: skip
    Annotation.objects.bulk_create(rows)


@pytest.fixture
def lead(team, client_for):
    return client_for(team.lead)


# --- who gets in ------------------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["annotator", "reviewer"])
def test_members_below_lead_get_403_on_the_page_and_the_preview(team, client_for, persona):
    client = client_for(team.persona(persona))
    assert client.get(edit_url(team)).status_code == 403
    assert client.post(edit_url(team), posted()).status_code == 403
    assert client.post(preview_url(team), posted(), **HTMX).status_code == 403
    assert not LabelSchema.objects.filter(project=team.project).exists()


@pytest.mark.parametrize("persona", ["outsider", "other_lead"])
def test_outsiders_get_404(team, client_for, persona):
    client = client_for(team.persona(persona))
    assert client.get(edit_url(team)).status_code == 404
    assert client.post(edit_url(team), posted()).status_code == 404
    assert client.post(preview_url(team), posted()).status_code == 404


def test_anonymous_users_are_sent_to_sign_in(team, client):
    response = client.get(edit_url(team))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


# --- the page ---------------------------------------------------------------------------------


def test_a_project_without_a_schema_starts_from_the_single_choice_example(team, lead):
    response = lead.get(edit_url(team))
    assert response.status_code == 200
    page = response.content.decode()
    assert "No label schema yet" in page
    assert 'id="schema-preview"' in page
    assert response.context["form"].initial["config"] == json.dumps(
        default_config("single_choice"), indent=2
    )
    assert "Positive" in page


def test_the_page_summarises_the_saved_schema(team, lead):
    config = {"labels": [
        {"value": "ham", "text": "Not spam", "hotkey": "h", "color": "#1a7f37",
         "description": "Mail you asked for."},
        {"value": "spam", "text": "Spam", "hotkey": "j"},
    ]}  # fmt: skip
    schema_of(team, config)
    annotate(team, ["ham", "spam"])
    page = lead.get(edit_url(team)).content.decode()
    assert "version 1" in page
    assert '<kbd class="badge">h</kbd>' in page
    assert 'fill="#1a7f37"' in page
    assert "Mail you asked for." in page
    assert "2 annotations so far" in page
    assert escape('"value": "ham"') in page  # the config, pretty-printed, in the textarea


def test_the_lead_saves_a_schema_and_each_change_bumps_the_version(team, lead):
    response = lead.post(edit_url(team), posted())
    assert response.status_code == 302
    assert response["Location"] == edit_url(team)
    schema = LabelSchema.objects.get(project=team.project)
    assert (schema.kind, schema.config, schema.version) == ("single_choice", SINGLE, 1)

    more = {"labels": [*SINGLE["labels"], {"value": "eggs"}]}
    page = lead.post(edit_url(team), posted(config=more, version=1), follow=True)
    assert "Saved the label schema (version 2)." in page.content.decode()
    schema.refresh_from_db()
    assert (schema.config, schema.version) == (more, 2)


def test_saving_what_is_stored_changes_nothing(team, lead):
    schema_of(team)
    page = lead.post(edit_url(team), posted(version=1), follow=True).content.decode()
    assert "nothing changed" in page
    assert LabelSchema.objects.get(project=team.project).version == 1


def test_an_htmx_save_redirects_the_whole_page(team, lead):
    response = lead.post(edit_url(team), posted(), **HTMX)
    assert response.status_code == 200
    assert response["HX-Redirect"] == edit_url(team)


def test_config_problems_come_back_with_their_field_names(team, lead):
    bad = {"labels": [{"value": "ham", "hotkey": "s"}, {"value": "ham"}]}
    response = lead.post(edit_url(team), posted(config=bad), **HTMX)
    assert response.status_code == 200
    page = response.content.decode()
    assert 'id="schema-editor"' in page
    assert "labels[0].hotkey" in page
    assert "labels[1].value" in page
    assert not LabelSchema.objects.filter(project=team.project).exists()


def test_json_that_does_not_parse_is_explained(team, lead):
    response = lead.post(edit_url(team), posted(config='{"labels": [}'))
    assert response.status_code == 200
    assert "is not valid JSON" in response.content.decode()
    assert "line 1, column 13" in response.content.decode()


def test_removing_a_used_label_is_refused_naming_the_label_and_count(team, lead):
    schema_of(team)
    annotate(team, ["spam", "spam", "ham"])
    only_ham = {"labels": [{"value": "ham"}, {"value": "eggs"}]}
    response = lead.post(edit_url(team), posted(config=only_ham, version=1), **HTMX)
    assert response.status_code == 200
    page = response.content.decode()
    assert "existing annotations would no longer fit" in page
    assert escape("Label 'spam' is used by 2 annotations.") in page
    schema = LabelSchema.objects.get(project=team.project)
    assert (schema.config, schema.version) == (SINGLE, 1)


def test_changing_the_kind_with_annotations_is_refused(team, lead):
    schema_of(team)
    annotate(team, ["ham"])
    response = lead.post(edit_url(team), posted("rating", default_config("rating"), version=1))
    assert "cannot change from single choice to rating while 1 annotation exists" in (
        response.content.decode()
    )
    assert LabelSchema.objects.get(project=team.project).kind == "single_choice"


def test_adding_labels_while_annotations_exist_is_allowed(team, lead):
    schema_of(team)
    annotate(team, ["spam", "ham"])
    more = {"labels": [*SINGLE["labels"], {"value": "eggs", "hotkey": "3"}]}
    assert lead.post(edit_url(team), posted(config=more, version=1)).status_code == 302
    assert LabelSchema.objects.get(project=team.project).version == 2


def test_a_save_over_a_newer_version_is_refused(team, lead):
    schema_of(team)
    more = {"labels": [*SINGLE["labels"], {"value": "eggs"}]}
    label_schema_save(project=team.project, kind="single_choice", config=more, version=1)
    response = lead.post(edit_url(team), posted(config=SINGLE, version=1))
    assert "the schema changed while you edited it (it is now version 2)" in (
        response.content.decode()
    )
    assert LabelSchema.objects.get(project=team.project).config == more


def test_the_example_button_fills_in_the_chosen_kind_without_saving(team, lead):
    response = lead.post(edit_url(team), posted("rating", "{}", action="example"), **HTMX)
    assert response.status_code == 200
    assert response.context["form"].initial["config"] == json.dumps(
        default_config("rating"), indent=2
    )
    assert "Very poor" in response.content.decode()
    assert not LabelSchema.objects.filter(project=team.project).exists()


def test_annotations_of_other_projects_do_not_count(team, lead):
    schema_of(team)
    other_item = team.other_project.items.first()
    Annotation.objects.create(item=other_item, annotator=team.other_lead, value={"label": "spam"})
    only_ham = {"labels": [{"value": "ham"}, {"value": "eggs"}]}
    assert lead.post(edit_url(team), posted(config=only_ham, version=1)).status_code == 302


def test_the_orphan_check_is_one_grouped_query_however_many_annotations(team):
    """The save reads annotation values once, grouped, never one row at a time."""
    schema_of(team)
    removed = {"labels": [{"value": "ham"}, {"value": "eggs"}]}

    def refused_save() -> list[str]:
        refused = pytest.raises(ValidationError, match="is used by")
        with CaptureQueriesContext(connection) as queries, refused:
            label_schema_save(project=team.project, kind="single_choice", config=removed)
        return [query["sql"] for query in queries.captured_queries]

    annotate(team, ["spam", "ham"])
    few = refused_save()
    ItemFactory.create_batch(10, project=team.project)
    Annotation.objects.all().delete()
    annotate(team, ["spam", "ham", "spam"] * 10)
    many = refused_save()
    assert len(many) == len(few)
    [read] = [sql for sql in many if "annotation_annotation" in sql]
    assert "GROUP BY" in read


# --- the preview ------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["single_choice", "multiple_choice", "spans", "rating"])
def test_the_preview_shows_the_buttons_of_each_kind(team, lead, kind):
    response = lead.post(preview_url(team), posted(kind, default_config(kind)), **HTMX)
    assert response.status_code == 200
    page = response.content.decode()
    assert page.lstrip().startswith('<section id="schema-preview"')
    for label in default_config(kind).get("labels") or default_config(kind)["scale"]:
        assert escape(label["text"]) in page
    assert "form-errors" not in page


def test_the_preview_of_a_preference_shows_both_responses_tie_and_reason(team, lead):
    config = {"allow_tie": True, "reason": "required"}
    page = lead.post(preview_url(team), posted("preference", config), **HTMX).content.decode()
    assert "Shown first" in page and "Shown second" in page
    assert "Tie" in page
    assert "Reason (required)" in page
    config = {"allow_tie": False, "reason": "off"}
    page = lead.post(preview_url(team), posted("preference", config), **HTMX).content.decode()
    assert "Tie" not in page
    assert "Reason" not in page


def test_the_preview_shows_config_problems_with_field_names_at_200(team, lead):
    bad = {"labels": [{"value": "a", "color": "red"}, {"value": "b", "hotkey": "Enter"}]}
    response = lead.post(preview_url(team), posted(config=bad), **HTMX)
    assert response.status_code == 200
    page = response.content.decode()
    assert "<code>labels[0].color</code>" in page
    assert "<code>labels[1].hotkey</code>" in page
    broken = lead.post(preview_url(team), posted(config="{nope"), **HTMX)
    assert broken.status_code == 200
    assert "is not valid JSON" in broken.content.decode()


def test_the_preview_saves_nothing(team, lead):
    lead.post(preview_url(team), posted(), **HTMX)
    assert not LabelSchema.objects.filter(project=team.project).exists()


def test_without_javascript_the_preview_is_the_whole_page_with_the_form_as_typed(team, lead):
    response = lead.post(preview_url(team), posted("rating", default_config("rating")))
    assert response.status_code == 200
    page = response.content.decode()
    assert "<h1>Label schema of" in page
    assert "Very poor" in page
    assert '<option value="rating" selected>' in page


XSS = '<script>alert(1)</script>"><img src=x onerror=alert(2)>'


def test_label_text_and_descriptions_are_escaped_in_the_preview_and_summary(team, lead):
    config = {"labels": [
        {"value": "a" + XSS[:90], "text": XSS, "description": XSS, "color": "#000000"},
        {"value": "b"},
    ]}  # fmt: skip
    preview = lead.post(preview_url(team), posted(config=config), **HTMX).content.decode()
    assert "<script>" not in preview
    assert "<img" not in preview
    assert escape(XSS) in preview
    schema_of(team, config)
    page = lead.get(edit_url(team)).content.decode()
    assert "<script>alert" not in page
    assert "<img src=x" not in page


def test_a_tampered_version_is_reported_not_ignored(team, lead):
    response = lead.post(edit_url(team), posted(version="latest"))
    assert response.status_code == 200
    assert "Enter a whole number." in response.content.decode()
    assert not LabelSchema.objects.filter(project=team.project).exists()
