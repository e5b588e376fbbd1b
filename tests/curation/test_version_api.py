"""The versions API and pages: freezing, listing, a version with its card, card edits with 409
on a stale revision, byte-identical downloads and diffs as JSON. Who may do what is in
tests/authz_routes/curation_versions.py."""

import io
import zipfile

import pytest
from django.urls import reverse

from curation.models import DatasetVersion, JobStatus
from curation.versions import card_revision, version_zip_file
from tests.conftest import jobs_in_process
from tests.curation import test_versions as shared
from tests.curation.test_versions import freeze, hand_built

# Fixtures shared with test_versions.
labelled, two_versions = shared.labelled, shared.two_versions


def url(name, **kwargs):
    return reverse(f"api:{name}", kwargs=kwargs)


def test_lead_freezes_through_the_api_and_the_version_is_listed(
    team,
    labelled,
    api_for,
    django_capture_on_commit_callbacks,
):
    with jobs_in_process(), django_capture_on_commit_callbacks(execute=True):
        response = api_for(team.lead).post(url("version-list", slug=team.project.slug),
                                           {"note": "From the API"}, format="json")  # fmt: skip
    assert response.status_code == 202, response.content
    run = team.project.job_runs.get(pk=response.json()["id"])
    assert run.status == JobStatus.DONE and run.counts["version"] == 1
    listed = api_for(team.reviewer).get(url("version-list", slug=team.project.slug)).json()
    assert listed["count"] == 1
    entry = listed["results"][0]
    assert (entry["number"], entry["note"], entry["created_by"], entry["item_count"]) == (
        1, "From the API", "lena_lead", 4
    )  # fmt: skip
    assert entry["content_hash"] == DatasetVersion.objects.get().content_hash


def test_freeze_refuses_unknown_fields(team, api_for):
    response = api_for(team.lead).post(url("version-list", slug=team.project.slug),
                                       {"note": "x", "number": 7}, format="json")  # fmt: skip
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"number"}


def test_version_detail_has_the_summary_hash_and_card(team, labelled, api_for):
    version = freeze(team)
    body = (
        api_for(team.reviewer).get(url("version-detail", slug=team.project.slug, number=1)).json()
    )
    assert body["content_hash"] == version.content_hash
    assert body["summary"]["splits"] == {"train": 2, "test": 1, "unassigned": 1}
    assert body["card"].startswith('---\npretty_name: "Support intents v1"')
    assert body["card_revision"] == "" and body["card_sections"] == {}


def test_card_patch_saves_sections_and_a_stale_revision_is_409(team, labelled, api_for):
    freeze(team)
    client, address = api_for(team.lead), url("version-card", slug=team.project.slug, number=1)
    first = client.patch(address, {"revision": "", "motivation": "Why", "language": ["en"]},
                         format="json")  # fmt: skip
    assert first.status_code == 200, first.content
    assert first.json()["card_sections"] == {"motivation": "Why", "language": ["en"]}
    assert "## Motivation\n\nWhy" in first.json()["card"]
    stale = client.patch(address, {"revision": "", "uses": "Training"}, format="json")
    assert stale.status_code == 409
    assert "changed this card" in stale.json()["detail"]
    fresh = client.patch(address, {"revision": first.json()["card_revision"], "uses": "Training"},
                         format="json")  # fmt: skip
    assert fresh.status_code == 200
    assert fresh.json()["card_sections"]["uses"] == "Training"
    bad = client.patch(address, {"revision": fresh.json()["card_revision"], "summary": {}},
                       format="json")  # fmt: skip
    assert bad.status_code == 400 and set(bad.json()["errors"]) == {"summary"}


def test_download_is_an_attachment_and_the_same_bytes_each_time(team, labelled, api_for):
    version = freeze(team)
    client = api_for(team.reviewer)
    address = url("version-download", slug=team.project.slug, number=1)
    first, second = client.get(address), client.get(address)
    assert first.status_code == 200
    assert first["Content-Type"] == "application/zip"
    assert first["Content-Disposition"] == 'attachment; filename="support-intents-v1.zip"'
    assert first["X-Content-Type-Options"] == "nosniff"
    body = b"".join(first.streaming_content)
    assert body == b"".join(second.streaming_content)
    with version_zip_file(version) as handle:
        assert body == handle.read()
    assert "README.md" in zipfile.ZipFile(io.BytesIO(body)).namelist()


def test_diff_as_json_with_limit_and_offset(team, two_versions, api_for):
    client = api_for(team.reviewer)
    address = url("version-diff", slug=team.project.slug)
    body = client.get(address, {"from": 1, "to": 2}).json()
    assert body["counts"] == {"added": 1, "removed": 1, "relabeled": 3, "moved": 2}
    assert body["added"] == [{"external_id": "fresh", "label": "neg", "split": "train"}]
    assert [e["external_id"] for e in body["relabeled"]] == ["b", "d", "e"]
    assert body["labels"][0] == {"label": "pos", "old": 3, "new": 4, "change": 1}
    paged = client.get(address, {"from": 1, "to": 2, "limit": 1, "offset": 1}).json()
    assert paged["relabeled"] == [{"external_id": "d", "old_label": "neg", "new_label": "pos"}]
    assert paged["moved"] == [{"external_id": "d", "old_split": "dev", "new_split": "test"}]
    assert (paged["limit"], paged["offset"]) == (1, 1)


@pytest.mark.parametrize(
    ("query", "status", "field"),
    [({"from": 1, "to": 1}, 400, "to"), ({"from": 1}, 400, "to"),
     ({"from": 1, "to": 2, "limit": 5000}, 400, "limit"),
     ({"from": 1, "to": 2, "sort": "x"}, 400, "sort"), ({"from": 1, "to": 9}, 404, None)],
)  # fmt: skip
def test_diff_refuses_bad_parameters(team, two_versions, api_for, query, status, field):
    response = api_for(team.lead).get(url("version-diff", slug=team.project.slug), query)
    assert response.status_code == status
    if field:
        assert field in response.json()["errors"]


def test_outsiders_see_no_versions_of_other_projects(team, two_versions, api_for):
    hand_built(team.other_project, 1, [("o", "train", "x")])
    client = api_for(team.other_lead)
    own = client.get(url("version-list", slug=team.other_project.slug)).json()
    assert [v["number"] for v in own["results"]] == [1]
    routes = [("version-list", {}), ("version-detail", {"number": 1}),
              ("version-card", {"number": 1}), ("version-download", {"number": 1})]  # fmt: skip
    for name, kwargs in routes:
        response = client.get(url(name, slug=team.project.slug, **kwargs))
        assert response.status_code == 404, name
        assert response.json() == {"detail": "Not found."}
    diff = client.get(url("version-diff", slug=team.project.slug), {"from": 1, "to": 2})
    assert diff.status_code == 404


# --- pages ------------------------------------------------------------------------------------


def page(name, team, **kwargs):
    return reverse(f"curation:{name}", kwargs={"slug": team.project.slug, **kwargs})


def test_lead_freezes_from_the_page_and_sees_the_version(
    team,
    labelled,
    client,
    django_capture_on_commit_callbacks,
):
    client.force_login(team.lead)
    with jobs_in_process(), django_capture_on_commit_callbacks(execute=True):
        response = client.post(page("versions", team), {"note": "Page <b>note</b>"})
    assert response.status_code == 302
    listing = client.get(page("versions", team)).content.decode()
    assert "Open version 1" in listing
    assert "Page &lt;b&gt;note&lt;/b&gt;" in listing
    version = DatasetVersion.objects.get()
    assert version.content_hash[:12] in listing


def test_the_freeze_status_polls_until_done(team, labelled, client):
    freeze(team)
    client.force_login(team.reviewer)
    htmx = {"HX-Request": "true", "HX-Target": "freeze-status"}
    response = client.get(page("versions", team), headers=htmx)
    assert response.status_code == 286  # htmx: stop polling
    assert 'id="freeze-status"' in response.content.decode()


def test_reviewers_see_no_freeze_form_or_card_form(team, labelled, client):
    freeze(team)
    client.force_login(team.reviewer)
    assert "Freeze version" not in client.get(page("versions", team)).content.decode()
    detail = client.get(page("version_detail", team, number=1)).content.decode()
    assert "Save the card" not in detail and "Download (zip)" in detail


def test_card_is_rendered_safely_on_the_version_page(team, labelled, client):
    freeze(team)
    client.force_login(team.lead)
    response = client.post(page("version_card", team, number=1),
                           {"revision": "", "motivation": "<script>alert(1)</script> **Why**",
                            "license": "mit", "language": "en, de"})  # fmt: skip
    assert response.status_code == 302
    html = client.get(page("version_detail", team, number=1)).content.decode()
    assert "<script>alert(1)</script>" not in html
    assert "<strong>Why</strong>" in html
    assert 'license: "mit"' in html.replace("&quot;", '"')
    assert DatasetVersion.objects.get().card_sections["language"] == ["en", "de"]


def test_a_stale_card_form_says_so_with_409(team, labelled, client):
    version = freeze(team)
    client.force_login(team.lead)
    form = {"revision": card_revision(version), "motivation": "Mine"}
    assert client.post(page("version_card", team, number=1), form).status_code == 302
    again = client.post(page("version_card", team, number=1), {**form, "motivation": "Theirs"})
    assert again.status_code == 409
    assert "Someone else saved this card" in again.content.decode()
    assert DatasetVersion.objects.get().card_sections["motivation"] == "Mine"


def test_diff_page_lists_each_kind(team, two_versions, client):
    client.force_login(team.reviewer)
    html = client.get(page("versions_diff", team), {"from": 1, "to": 2}).content.decode()
    assert "From v1 to v2" in html
    assert "Relabeled (3)" in html and "Moved (2)" in html and "Added (1)" in html
    bad = client.get(page("versions_diff", team), {"from": 1, "to": 99})
    assert bad.status_code == 400
