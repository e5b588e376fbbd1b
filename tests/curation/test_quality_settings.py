"""A project's quality settings: the service's checks, the settings section of the quality page,
the API, and that the item checks and the imports follow what the lead stored. Who may reach
which route is in tests/authz_routes/curation_quality.py."""

import re

import orjson
import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from curation.forms import THRESHOLD_FIELDS
from curation.importing.files import import_start
from curation.models import Finding, FindingKind, JobStatus
from curation.quality.checks import RULES, CheckSettings
from curation.quality.registry import quality_job_start
from curation.quality.settings import (
    THRESHOLDS,
    quality_settings_for,
    quality_settings_update,
)
from tests.conftest import jobs_in_process
from tests.factories import ItemFactory

HTMX = {"HTTP_HX_REQUEST": "true"}
DEFAULT_CHECKS = {
    name: value for name, value in CheckSettings().as_dict().items() if name != "required_fields"
}
TWENTY_CHARS = "Twenty chars of text"


def page_url(team, name="quality"):
    return reverse(f"curation:{name}", kwargs={"slug": team.project.slug})


def api_url(team):
    return reverse("api:quality-settings", kwargs={"slug": team.project.slug})


def form_data(**changes) -> dict:
    """The settings form as a lead sends it: the defaults, all rules, no jobs after import."""
    data = {name: value for name, value in DEFAULT_CHECKS.items() if name != "rules"}
    return {**data, "rules": list(RULES), **changes}


def stored(team) -> dict:
    team.project.refresh_from_db()
    return team.project.quality_settings


def errors_of(caught) -> dict:
    return caught.value.message_dict


# --- the service ------------------------------------------------------------------------------


@pytest.mark.django_db
class TestService:
    def test_defaults_fill_what_is_not_stored(self, team):
        assert quality_settings_for(team.project) == {"checks": DEFAULT_CHECKS, "after_import": []}

    def test_a_change_is_merged_over_the_stored_settings(self, team):
        quality_settings_update(project=team.project, user=team.lead,
                                checks={"max_chars": 500, "rules": ["too_long"]})  # fmt: skip
        result = quality_settings_update(project=team.project, user=team.lead,
                                         checks={"min_chars": 5})  # fmt: skip
        expected = {**DEFAULT_CHECKS, "max_chars": 500, "min_chars": 5, "rules": ["too_long"]}
        assert result == {"checks": expected, "after_import": []}
        assert stored(team)["checks"] == expected
        assert quality_settings_for(team.project) == result

    def test_after_import_is_replaced_and_leaves_the_checks_alone(self, team):
        quality_settings_update(project=team.project, user=team.lead, checks={"max_chars": 500})
        result = quality_settings_update(project=team.project, user=team.lead,
                                         after_import=["item_checks", "item_checks"])  # fmt: skip
        assert result["after_import"] == ["item_checks"]
        assert result["checks"]["max_chars"] == 500

    @pytest.mark.parametrize(
        ("name", "value", "message"),
        [
            ("max_chars", 0, "Must be a positive number, like 20000."),
            ("max_chars", -5, "Must be a positive number, like 20000."),
            ("max_chars", 2.5, "Must be a whole number, like 20000."),
            ("max_chars", "100", "Must be a number, like 20000."),
            ("max_chars", True, "Must be a number, like 20000."),
            ("max_chars", 10**12, "Must be at most 1,000,000,000."),
            ("min_letter_share", 1.5, "Must be a share of the text, between 0 and 1."),
            ("max_char_run", 1, "max_char_run and max_line_repeats must be at least 2."),
        ],
    )
    def test_a_bad_threshold_is_an_error_naming_it(self, team, name, value, message):
        with pytest.raises(ValidationError) as caught:
            quality_settings_update(project=team.project, user=team.lead, checks={name: value})
        assert errors_of(caught) == {f"checks.{name}": [message]}
        assert stored(team) == {}

    def test_an_unknown_rule_is_named_and_nothing_is_stored(self, team):
        with pytest.raises(ValidationError) as caught:
            quality_settings_update(project=team.project, user=team.lead,
                                    checks={"rules": ["empty", "spelling"]},
                                    after_import=["item_checks"])  # fmt: skip
        assert errors_of(caught) == {"checks.rules": ["Unknown item check rules: spelling."]}
        assert stored(team) == {}

    def test_rules_must_be_a_list_of_names(self, team):
        with pytest.raises(ValidationError) as caught:
            quality_settings_update(project=team.project, user=team.lead, checks={"rules": "empty"})
        assert errors_of(caught) == {"checks.rules": ["Give a list of rule names."]}

    def test_an_unknown_job_kind_names_after_import(self, team):
        with pytest.raises(ValidationError) as caught:
            quality_settings_update(project=team.project, user=team.lead,
                                    after_import=["item_checks", "spellcheck"])  # fmt: skip
        (message,) = errors_of(caught)["after_import"]
        assert message.startswith("Unknown quality job 'spellcheck'; use: ")
        assert "item_checks" in message
        assert stored(team) == {}

    def test_unknown_settings_and_the_schemas_fields_are_refused(self, team):
        with pytest.raises(ValidationError) as caught:
            quality_settings_update(project=team.project, user=team.lead,
                                    checks={"colour": 1, "required_fields": ["text"]})  # fmt: skip
        errors = errors_of(caught)
        assert set(errors) == {"checks.colour", "checks.required_fields"}
        assert errors["checks.required_fields"] == [
            "This comes from the label schema; it cannot be set here."
        ]

    def test_every_bad_setting_is_named_at_once(self, team):
        with pytest.raises(ValidationError) as caught:
            quality_settings_update(project=team.project, user=team.lead,
                                    checks={"min_chars": 0, "max_line_repeats": "3"})  # fmt: skip
        assert set(errors_of(caught)) == {"checks.min_chars", "checks.max_line_repeats"}

    def test_a_minimum_length_above_the_maximum_is_refused(self, team):
        quality_settings_update(project=team.project, user=team.lead, checks={"min_chars": 50})
        with pytest.raises(ValidationError) as caught:
            quality_settings_update(project=team.project, user=team.lead, checks={"max_chars": 40})
        assert errors_of(caught) == {
            "checks.max_chars": ["The minimum length is more than the maximum length."]
        }

    def test_a_stored_value_no_longer_valid_shows_its_default(self, team):
        team.project.quality_settings = {
            "checks": {"max_chars": 900, "min_chars": -1, "rules": ["empty", "retired_rule"]},
            "after_import": ["item_checks", "retired_job"],
        }
        team.project.save()
        settings = quality_settings_for(team.project)
        assert settings["checks"] == {**DEFAULT_CHECKS, "max_chars": 900}
        assert settings["after_import"] == ["item_checks"]

    def test_the_form_has_a_field_for_every_threshold(self):
        assert list(THRESHOLD_FIELDS) == list(THRESHOLDS)


# --- the settings section of the quality page -------------------------------------------------


@pytest.mark.django_db
class TestPage:
    def test_lead_sees_the_form_filled_with_the_settings_in_effect(self, team, client_for):
        quality_settings_update(project=team.project, user=team.lead,
                                checks={"max_chars": 900, "rules": ["empty"]})  # fmt: skip
        html = client_for(team.lead).get(page_url(team)).content.decode()
        assert f'action="{page_url(team, "quality_settings")}"' in html
        assert 'name="max_chars" value="900"' in html
        assert 'name="min_letter_share" value="0.5"' in html
        assert 'name="rules" value="empty"' in html
        assert RULES["personal_data"].description in html
        assert re.search(r'<input type="checkbox" name="rules" value="empty"[^>]* checked', html)
        assert re.search(r'<input type="checkbox" name="rules" value="too_long"(?![^>]*checked)',
                         html)  # fmt: skip
        assert 'aria-describedby="settings-rules_0-help"' in html
        assert 'id="settings-rules_0-help"' in html
        assert 'name="after_import" value="item_checks"' in html
        assert "Save settings" in html

    def test_lead_saves_and_sees_a_success_message(self, team, client_for):
        data = form_data(max_chars=1200, rules=["empty", "too_long"], after_import=["item_checks"])
        client = client_for(team.lead)
        response = client.post(page_url(team, "quality_settings"), data)
        assert response.status_code == 302
        assert response["Location"] == page_url(team) + "#settings"
        page = client.get(response["Location"]).content.decode()
        assert "Saved the quality settings." in page
        assert stored(team) == {
            "checks": {**DEFAULT_CHECKS, "max_chars": 1200, "rules": ["empty", "too_long"]},
            "after_import": ["item_checks"],
        }

    def test_unchecking_every_box_saves_no_rules_and_no_jobs(self, team, client_for):
        quality_settings_update(project=team.project, user=team.lead, after_import=["item_checks"])
        data = {k: v for k, v in form_data().items() if k != "rules"}
        client_for(team.lead).post(page_url(team, "quality_settings"), data)
        assert stored(team)["checks"]["rules"] == []
        assert stored(team)["after_import"] == []

    def test_htmx_save_answers_with_the_section(self, team, client_for):
        response = client_for(team.lead).post(
            page_url(team, "quality_settings"), form_data(max_chars=700), **HTMX
        )
        html = response.content.decode()
        assert response.status_code == 200
        assert html.lstrip().startswith('<section id="settings"')
        assert "Saved the quality settings." in html
        assert 'name="max_chars" value="700"' in html
        assert stored(team)["checks"]["max_chars"] == 700

    def test_a_service_error_is_shown_on_its_field(self, team, client_for):
        data = form_data(min_chars=500, max_chars=100)
        response = client_for(team.lead).post(page_url(team, "quality_settings"), data)
        html = response.content.decode()
        assert response.status_code == 400
        field = html.split('for="settings-max_chars"', 1)[1].split('<div class="field', 1)[0]
        assert "The minimum length is more than the maximum length." in field
        assert 'name="max_chars" value="100"' in html  # what was typed stays
        assert stored(team) == {}

    def test_a_form_error_comes_back_in_the_section_for_htmx(self, team, client_for):
        data = form_data(min_letter_share="lots")
        response = client_for(team.lead).post(page_url(team, "quality_settings"), data, **HTMX)
        html = response.content.decode()
        assert response.status_code == 200  # htmx swaps only 2xx answers
        field = html.split('for="settings-min_letter_share"', 1)[1].split('<div class="field')[0]
        assert "Enter a number." in field
        assert "Saved the quality settings." not in html
        assert stored(team) == {}

    def test_reviewer_sees_the_values_read_only(self, team, client_for):
        html = client_for(team.reviewer).get(page_url(team)).content.decode()
        assert 'name="max_chars" value="20000"' in html
        assert 'name="max_chars" value="20000" min="1" max="1000000000" required disabled' in html
        assert page_url(team, "quality_settings") not in html
        assert "Save settings" not in html
        assert "a lead changes them" in html

    def test_reviewer_and_annotator_cannot_save(self, team, client_for):
        url = page_url(team, "quality_settings")
        assert client_for(team.reviewer).post(url, form_data(max_chars=5)).status_code == 403
        assert client_for(team.annotator).post(url, form_data(max_chars=5)).status_code == 403
        assert client_for(team.annotator).get(page_url(team)).status_code == 403
        assert stored(team) == {}


# --- the API ----------------------------------------------------------------------------------


def api_errors(response) -> dict:
    assert response.status_code == 400, response.content
    return response.json()["errors"]


@pytest.mark.django_db
class TestApi:
    def test_reviewer_reads_every_setting(self, team, api_for):
        response = api_for(team.reviewer).get(api_url(team))
        assert response.status_code == 200
        assert response.json() == {"checks": DEFAULT_CHECKS, "after_import": []}

    def test_lead_patches_some_settings_and_gets_them_all_back(self, team, api_for):
        body = {"checks": {"max_chars": 800, "min_letter_share": 0.25}, "after_import": []}
        response = api_for(team.lead).patch(api_url(team), body, format="json")
        assert response.status_code == 200, response.content
        expected = {**DEFAULT_CHECKS, "max_chars": 800, "min_letter_share": 0.25}
        assert response.json() == {"checks": expected, "after_import": []}
        response = api_for(team.lead).patch(
            api_url(team), {"after_import": ["item_checks"]}, format="json"
        )
        assert response.json() == {"checks": expected, "after_import": ["item_checks"]}

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({"checks": {"max_chars": 0}}, "checks.max_chars"),
            ({"checks": {"max_chars": "many"}}, "checks.max_chars"),
            ({"checks": {"rules": ["spelling"]}}, "checks.rules"),
            ({"checks": {"colour": "red"}}, "checks.colour"),
            ({"checks": {"required_fields": ["text"]}}, "checks.required_fields"),
            ({"after_import": ["spellcheck"]}, "after_import"),
            ({"after_import": "item_checks"}, "after_import"),
            ({"thresholds": {}}, "thresholds"),
        ],
    )
    def test_a_bad_value_is_a_400_naming_its_field(self, team, api_for, body, field):
        response = api_for(team.lead).patch(api_url(team), body, format="json")
        assert list(api_errors(response)) == [field]
        assert response.json()["detail"].startswith(f"{field}: ")
        assert stored(team) == {}

    def test_reviewer_cannot_patch_and_annotator_cannot_read(self, team, api_for):
        body = {"checks": {"max_chars": 5}}
        assert api_for(team.reviewer).patch(api_url(team), body, format="json").status_code == 403
        assert api_for(team.annotator).get(api_url(team)).status_code == 403
        assert stored(team) == {}

    def test_the_schema_documents_the_endpoint(self, team, api_for):
        schema = api_for(team.lead).get(reverse("api:schema"), {"format": "json"}).json()
        path = schema["paths"]["/api/projects/{slug}/quality-settings/"]
        assert set(path) >= {"get", "patch"}
        assert "max_chars" in schema["components"]["schemas"]["CheckSettings"]["properties"]


# --- the jobs follow the stored settings ------------------------------------------------------


def run_in_process(capture, start):
    """Calls `start()` and runs what it dispatches, here, once its transaction would commit."""
    with jobs_in_process(), capture(execute=True):
        run = start()
    run.refresh_from_db()
    return run


def item_check_rules(project, item) -> set[str]:
    findings = Finding.objects.filter(project=project, kind=FindingKind.ITEM_CHECK, item=item)
    return set(findings.values_list("rule", flat=True))


@pytest.mark.django_db
class TestJobs:
    def test_item_checks_use_the_stored_maximum_length(
        self, team, django_capture_on_commit_callbacks
    ):
        item = ItemFactory(project=team.project, data={"text": TWENTY_CHARS})

        def start():
            return quality_job_start(project=team.project, kind="item_checks", user=team.lead)

        run_in_process(django_capture_on_commit_callbacks, start)
        assert "too_long" not in item_check_rules(team.project, item)
        quality_settings_update(project=team.project, user=team.lead, checks={"max_chars": 10})
        run = run_in_process(django_capture_on_commit_callbacks, start)
        assert run.status == JobStatus.DONE, run.message
        assert "too_long" in item_check_rules(team.project, item)
        finding = Finding.objects.get(item=item, rule="too_long")
        assert finding.message == "The text has 20 characters; the maximum is 10."

    def test_an_import_runs_the_jobs_chosen_to_follow_it(
        self, team, settings, tmp_path, django_capture_on_commit_callbacks
    ):
        settings.MEDIA_ROOT = str(tmp_path / "media")
        quality_settings_update(project=team.project, user=team.lead,
                                checks={"max_chars": 10}, after_import=["item_checks"])  # fmt: skip
        upload = SimpleUploadedFile(
            "items.jsonl", orjson.dumps({"id": "new-1", "text": TWENTY_CHARS}) + b"\n"
        )

        def start():
            return import_start(project=team.project, user=team.lead, source=upload,
                                filename="items.jsonl", options={})  # fmt: skip

        imported = run_in_process(django_capture_on_commit_callbacks, start)
        assert imported.status == JobStatus.DONE, imported.errors
        checks = team.project.job_runs.get(kind="item_checks")
        assert checks.status == JobStatus.DONE, checks.message
        assert checks.created_by == team.lead
        item = team.project.items.get(external_id="new-1")
        assert item_check_rules(team.project, item) == {"too_long"}

    def test_an_import_runs_no_quality_job_unless_chosen(
        self, team, settings, tmp_path, django_capture_on_commit_callbacks
    ):
        settings.MEDIA_ROOT = str(tmp_path / "media")
        upload = SimpleUploadedFile("items.jsonl", b'{"id": "new-1", "text": "Hello there"}\n')

        def start():
            return import_start(project=team.project, user=team.lead, source=upload,
                                filename="items.jsonl", options={})  # fmt: skip

        assert run_in_process(django_capture_on_commit_callbacks, start).status == JobStatus.DONE
        assert not team.project.job_runs.filter(kind="item_checks").exists()
        assert not Finding.objects.filter(project=team.project).exists()


def test_a_job_that_needs_a_choice_first_cannot_run_after_each_import(team):
    """The benchmark check needs a reference set chosen, so it is not offered after imports."""
    with pytest.raises(ValidationError) as refused:
        quality_settings_update(project=team.project, user=team.lead,
                                after_import=["reference_leakage"])  # fmt: skip
    assert "after_import" in refused.value.message_dict


def test_a_settings_change_is_in_the_audit_trail(team):
    from curation.models import AuditEvent

    quality_settings_update(project=team.project, user=team.lead, after_import=["item_checks"])
    event = AuditEvent.objects.get(kind="quality_settings_changed")
    assert (event.actor, event.project) == (team.lead, team.project)
    assert event.detail["settings"]["after_import"] == ["item_checks"]
