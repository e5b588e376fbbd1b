"""The quality API: starting quality jobs, reading findings, resolving and acting on them, and
cancelling job runs. Who may do what is in tests/authz_routes/curation_quality.py."""

import pytest
from django.urls import reverse

from curation.models import FindingKind, FindingStatus, JobRun, JobStatus, Split
from tests.conftest import jobs_in_process
from tests.curation.quality_support import PROBE, make_finding, probe_job
from tests.factories import ItemFactory


@pytest.fixture
def probe():
    with probe_job() as spec:
        yield spec


def url(name, **kwargs):
    return reverse(f"api:{name}", kwargs=kwargs)


def errors_of(response) -> dict:
    body = response.json()
    assert set(body) == {"detail", "errors"}, body
    return body["errors"]


# --- starting a job ---------------------------------------------------------------------------


@pytest.mark.django_db
class TestStart:
    def test_lead_starts_a_job_and_gets_202_with_the_run(self, team, api_for, probe):
        body = {"kind": PROBE, "params": {"word": "parcel", "threshold": 1}}
        response = api_for(team.lead).post(
            url("job-create", slug=team.project.slug), body, format="json"
        )
        assert response.status_code == 202, response.content
        run = team.project.job_runs.get(kind=PROBE)
        assert response["Location"] == url("job-detail", job_id=run.pk)
        assert run.params == {
            "word": "parcel",
            "min_length": 3,
            "threshold": 1.0,
            "strict": False,
            "splits": ["train", "test"],
        }
        same_shape = api_for(team.lead).get(url("job-detail", job_id=run.pk)).json()
        assert response.json() == same_shape

    def test_job_runs_once_committed(
        self, team, api_for, probe, django_capture_on_commit_callbacks
    ):
        ItemFactory(project=team.project, data={"text": "A refund, please"})
        with jobs_in_process(), django_capture_on_commit_callbacks(execute=True):
            response = api_for(team.lead).post(
                url("job-create", slug=team.project.slug), {"kind": PROBE}, format="json"
            )
        run = team.project.job_runs.get(pk=response.json()["id"])
        assert run.status == JobStatus.DONE
        assert run.counts["flagged"] == 1

    def test_a_second_start_returns_the_active_run(self, team, api_for, probe):
        client = api_for(team.lead)
        first = client.post(
            url("job-create", slug=team.project.slug), {"kind": PROBE}, format="json"
        )
        second = client.post(
            url("job-create", slug=team.project.slug), {"kind": PROBE}, format="json"
        )
        assert first.json()["id"] == second.json()["id"]

    def test_unknown_kind_is_400_naming_kind(self, team, api_for, probe):
        response = api_for(team.lead).post(
            url("job-create", slug=team.project.slug), {"kind": "nope"}, format="json"
        )
        assert response.status_code == 400
        assert "kind" in errors_of(response)
        assert PROBE in errors_of(response)["kind"][0]
        assert not team.project.job_runs.exists()

    @pytest.mark.parametrize(
        ("params", "field"),
        [
            ({"colour": "red"}, "params.colour"),
            ({"min_length": "3"}, "params.min_length"),
            ({"strict": 1}, "params.strict"),
            ({"min_length": True}, "params.min_length"),
        ],
    )
    def test_bad_parameter_is_400_naming_it(self, team, api_for, probe, params, field):
        response = api_for(team.lead).post(
            url("job-create", slug=team.project.slug),
            {"kind": PROBE, "params": params},
            format="json",
        )
        assert response.status_code == 400
        assert list(errors_of(response)) == [field]
        assert response.json()["detail"].startswith(f"{field}: ")
        assert not team.project.job_runs.exists()

    def test_unknown_body_key_is_400(self, team, api_for, probe):
        response = api_for(team.lead).post(
            url("job-create", slug=team.project.slug), {"kind": PROBE, "user": 1}, format="json"
        )
        assert response.status_code == 400
        assert "user" in errors_of(response)

    def test_annotator_403_outsider_404(self, team, api_for, probe):
        address = url("job-create", slug=team.project.slug)
        assert (
            api_for(team.annotator).post(address, {"kind": PROBE}, format="json").status_code == 403
        )
        assert (
            api_for(team.reviewer).post(address, {"kind": PROBE}, format="json").status_code == 403
        )
        response = api_for(team.outsider).post(address, {"kind": PROBE}, format="json")
        assert response.status_code == 404 and response.json() == {"detail": "Not found."}
        assert not JobRun.objects.exists()


# --- reading findings -------------------------------------------------------------------------


@pytest.fixture
def findings(team):
    first, second = team.project.items.all()[:2]
    return {
        "check": make_finding(
            team.project,
            item=first,
            rule="too_short",
            score=0.2,
            message="Too short",
            detail={"length": 3},
        ),
        "dup": make_finding(
            team.project, FindingKind.NEAR_DUPLICATE, item=first, items=[second.pk], score=0.9
        ),
        "fixed": make_finding(team.project, item=second, status=FindingStatus.FIXED),
        "foreign": make_finding(team.other_project),
    }


@pytest.mark.django_db
class TestRead:
    def test_list_has_every_field_worst_first(self, team, api_for, findings):
        response = api_for(team.reviewer).get(url("finding-list", slug=team.project.slug))
        assert response.status_code == 200
        body = response.json()
        assert body["count"] == 3
        ids = [row["id"] for row in body["results"]]
        assert ids[:2] == [findings["dup"].pk, findings["check"].pk]
        row = next(r for r in body["results"] if r["id"] == findings["check"].pk)
        item = findings["check"].item
        assert row == {
            "id": findings["check"].pk,
            "kind": "item_check",
            "status": "open",
            "item": {"id": item.pk, "external_id": item.external_id},
            "items": [],
            "rule": "too_short",
            "message": "Too short",
            "score": 0.2,
            "detail": {"length": 3},
            "job": None,
            "created_at": row["created_at"],
            "resolved_by": None,
            "resolved_at": None,
            "resolution_note": "",
        }

    def test_filters_by_kind_and_status(self, team, api_for, findings):
        client = api_for(team.reviewer)
        address = url("finding-list", slug=team.project.slug)
        dups = client.get(address, {"kind": "near_duplicate"}).json()["results"]
        assert [r["id"] for r in dups] == [findings["dup"].pk]
        fixed = client.get(address, {"status": "fixed"}).json()["results"]
        assert [r["id"] for r in fixed] == [findings["fixed"].pk]
        both = client.get(address, {"kind": "item_check", "status": "open"}).json()["results"]
        assert [r["id"] for r in both] == [findings["check"].pk]

    @pytest.mark.parametrize(
        ("query", "field"),
        [
            ({"kind": "leak"}, "kind"),
            ({"status": "closed"}, "status"),
            ({"ordering": "-resolved_by__password"}, "ordering"),
            ({"item__data__icontains": "x"}, "item__data__icontains"),
        ],
    )
    def test_unknown_filters_are_400_naming_them(self, team, api_for, findings, query, field):
        response = api_for(team.reviewer).get(url("finding-list", slug=team.project.slug), query)
        assert response.status_code == 400
        assert field in errors_of(response)

    def test_pages(self, team, api_for):
        for _ in range(3):
            make_finding(team.project)
        response = api_for(team.reviewer).get(
            url("finding-list", slug=team.project.slug), {"page_size": 2}
        )
        assert response.json()["count"] == 3 and len(response.json()["results"]) == 2
        assert response.json()["next"]

    def test_detail(self, team, api_for, findings):
        finding = findings["dup"]
        response = api_for(team.lead).get(
            url("finding-detail", slug=team.project.slug, finding_id=finding.pk)
        )
        assert response.status_code == 200
        assert response.json()["items"] == finding.items

    def test_annotator_403_outsider_and_other_project_404(self, team, api_for, findings):
        address = url("finding-list", slug=team.project.slug)
        assert api_for(team.annotator).get(address).status_code == 403
        assert api_for(team.outsider).get(address).status_code == 404
        foreign = url("finding-detail", slug=team.project.slug, finding_id=findings["foreign"].pk)
        response = api_for(team.lead).get(foreign)
        assert response.status_code == 404 and response.json() == {"detail": "Not found."}


# --- resolving and acting ---------------------------------------------------------------------


@pytest.mark.django_db
class TestWrite:
    def test_lead_resolves_and_reopens(self, team, api_for, findings):
        finding = findings["check"]
        address = url("finding-resolve", slug=team.project.slug, finding_id=finding.pk)
        client = api_for(team.lead)
        response = client.post(address, {"status": "not_a_problem", "note": "Fine."}, format="json")
        assert response.status_code == 200
        body = response.json()
        assert (body["status"], body["resolved_by"], body["resolution_note"]) == (
            "not_a_problem",
            "lena_lead",
            "Fine.",
        )
        assert body["resolved_at"]
        reopened = client.post(address, {"status": "open"}, format="json").json()
        assert (reopened["status"], reopened["resolved_by"]) == ("open", None)

    def test_resolve_with_unknown_status_is_400(self, team, api_for, findings):
        address = url("finding-resolve", slug=team.project.slug, finding_id=findings["check"].pk)
        response = api_for(team.lead).post(address, {"status": "gone"}, format="json")
        assert response.status_code == 400
        assert "status" in errors_of(response)

    def test_reviewer_cannot_resolve(self, team, api_for, findings):
        address = url("finding-resolve", slug=team.project.slug, finding_id=findings["check"].pk)
        assert (
            api_for(team.reviewer).post(address, {"status": "fixed"}, format="json").status_code
            == 403
        )
        findings["check"].refresh_from_db()
        assert findings["check"].status == FindingStatus.OPEN

    def test_keep_one_drops_the_others(self, team, api_for):
        a, b, c = (ItemFactory(project=team.project) for _ in range(3))
        finding = make_finding(team.project, FindingKind.NEAR_DUPLICATE, item=a, items=[b.pk, c.pk])
        response = api_for(team.lead).post(
            url("finding-action", slug=team.project.slug, finding_id=finding.pk),
            {"action": "keep", "keep": c.pk},
            format="json",
        )
        assert response.status_code == 200
        assert response.json()["status"] == "fixed"
        dropped = set(
            team.project.items.filter(dropped_at__isnull=False).values_list("pk", flat=True)
        )
        assert dropped == {a.pk, b.pk}

    def test_keep_without_an_item_is_400_naming_keep(self, team, api_for, findings):
        address = url("finding-action", slug=team.project.slug, finding_id=findings["dup"].pk)
        response = api_for(team.lead).post(address, {"action": "keep"}, format="json")
        assert response.status_code == 400
        assert list(errors_of(response)) == ["keep"]

    def test_a_mixed_list_of_own_and_foreign_items_is_refused_whole(self, team, api_for):
        own = [ItemFactory(project=team.project) for _ in range(2)]
        foreign = team.other_project.items.first()
        finding = make_finding(
            team.project, FindingKind.NEAR_DUPLICATE, item=own[0], items=[own[1].pk, foreign.pk]
        )
        response = api_for(team.lead).post(
            url("finding-action", slug=team.project.slug, finding_id=finding.pk),
            {"action": "keep", "keep": own[0].pk},
            format="json",
        )
        assert response.status_code == 400
        assert "items" in errors_of(response)
        assert not team.project.items.filter(dropped_at__isnull=False).exists()
        assert not team.other_project.items.filter(dropped_at__isnull=False).exists()
        finding.refresh_from_db()
        assert finding.status == FindingStatus.OPEN

    def test_keeping_a_foreign_item_is_refused(self, team, api_for, findings):
        foreign = team.other_project.items.first()
        address = url("finding-action", slug=team.project.slug, finding_id=findings["dup"].pk)
        response = api_for(team.lead).post(
            address, {"action": "keep", "keep": foreign.pk}, format="json"
        )
        assert response.status_code == 400
        assert list(errors_of(response)) == ["keep"]
        assert not team.project.items.filter(dropped_at__isnull=False).exists()

    @pytest.mark.parametrize("action", ["move", "drop"])
    def test_leaked_item_is_moved_or_dropped(self, team, api_for, action):
        leaked = ItemFactory(project=team.project, split=Split.TEST)
        twin = ItemFactory(project=team.project, split=Split.TRAIN)
        finding = make_finding(team.project, FindingKind.LEAKAGE, item=leaked, items=[twin.pk])
        response = api_for(team.lead).post(
            url("finding-action", slug=team.project.slug, finding_id=finding.pk),
            {"action": action},
            format="json",
        )
        assert response.status_code == 200
        leaked.refresh_from_db()
        if action == "move":
            assert leaked.split == Split.TRAIN and leaked.dropped_at is None
        else:
            assert leaked.split == Split.TEST and leaked.dropped_at is not None
        assert response.json()["status"] == "fixed"

    def test_action_that_does_not_fit_the_finding_is_400(self, team, api_for, findings):
        address = url("finding-action", slug=team.project.slug, finding_id=findings["check"].pk)
        response = api_for(team.lead).post(address, {"action": "drop"}, format="json")
        assert response.status_code == 400
        assert "finding" in errors_of(response)
        unknown = api_for(team.lead).post(address, {"action": "burn"}, format="json")
        assert unknown.status_code == 400 and "action" in errors_of(unknown)


# --- cancelling a job run ---------------------------------------------------------------------


@pytest.mark.django_db
class TestCancel:
    def test_lead_cancels_a_queued_run(self, team, api_for):
        run = JobRun.objects.create(project=team.project, kind="project_stats")
        response = api_for(team.lead).post(url("job-cancel", job_id=run.pk))
        assert response.status_code == 200
        assert response.json()["status"] == "cancelled"
        assert response.json()["id"] == run.pk

    def test_running_run_is_asked_to_stop(self, team, api_for):
        run = JobRun.objects.create(
            project=team.project, kind="project_stats", status=JobStatus.RUNNING
        )
        body = api_for(team.lead).post(url("job-cancel", job_id=run.pk)).json()
        assert (body["status"], body["cancel_requested"]) == ("running", True)

    def test_only_the_lead_of_its_project(self, team, api_for):
        run = JobRun.objects.create(project=team.project, kind="project_stats")
        address = url("job-cancel", job_id=run.pk)
        assert api_for(team.reviewer).post(address).status_code == 403
        assert api_for(team.other_lead).post(address).status_code == 404
        assert api_for(None).post(address).status_code == 401
        run.refresh_from_db()
        assert run.status == JobStatus.QUEUED
