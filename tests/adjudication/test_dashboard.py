"""The agreement dashboard: figures computed by the job from real annotations match the
published worked example, the page and its CSV files show them, the page costs the same queries
however many items there are, and undefined figures say why."""

import csv
import io
import re
from contextlib import contextmanager
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from adjudication.jobs import agreement_refresh_if_stale
from adjudication.models import AgreementSnapshot, ReviewPolicy
from annotation.models import Annotation, LabelSchema
from curation.models import JobRun, Project, Role
from tests.conftest import jobs_in_process
from tests.factories import ItemFactory, MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db

# Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", section C: four observers
# (rows) rate twelve units (columns) on a scale of 1 to 5, with missing values (None). The paper
# gives alpha = 0.743 (nominal), 0.815 (ordinal), 0.849 (interval).
K2011 = [
    [1, 2, 3, 3, 2, 1, 4, 1, 2, None, None, None],
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, None, 3],
    [None, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, None],
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, None],
]
SCALE = {"scale": [{"value": v} for v in range(1, 6)]}
CHOICES = {"labels": [{"value": str(v)} for v in range(1, 6)]}


def k2011_project(team, *, kind: str):
    """The team's project holding the paper's data as annotations by four coders."""
    project = team.project
    Project.objects.filter(pk=project.pk).update(annotators_per_item=4)
    config = SCALE if kind == "rating" else CHOICES
    LabelSchema.objects.create(project=project, kind=kind, config=config)
    coders = [*team.annotators, UserFactory(username="anna_4")]
    MembershipFactory(project=project, user=coders[3], role=Role.ANNOTATOR)
    items = [ItemFactory(project=project) for _ in range(12)]
    for coder, row in zip(coders, K2011, strict=True):
        for item, point in zip(items, row, strict=True):
            if point is not None:
                value = {"rating": point} if kind == "rating" else {"label": str(point)}
                Annotation.objects.create(item=item, annotator=coder, value=value,
                                          seconds_spent=3.0)  # fmt: skip
    return project


@pytest.fixture
def run_jobs(django_capture_on_commit_callbacks):
    """Jobs start when the transaction commits; a test's never does, so the callbacks run when
    the `with` block ends, and the jobs in this process (as in the embedded default)."""

    @contextmanager
    def running():
        with jobs_in_process(), django_capture_on_commit_callbacks(execute=True):
            yield

    return running


@pytest.fixture
def compute(run_jobs):
    """compute(project) runs the agreement job and returns the figures it stored."""

    def run(project):
        with run_jobs():
            job = agreement_refresh_if_stale(project=project, force=True)
        job.refresh_from_db()
        assert job.status == "done", job.message
        return AgreementSnapshot.objects.get(project=project).data

    return run


def page(client, project, **params):
    url = reverse("adjudication:agreement", kwargs={"slug": project.slug})
    return client.get(url, params)


def test_the_figures_match_krippendorffs_worked_example(team, client, compute):
    """Nominal alpha of the paper's data, end to end: annotations → job → page."""
    project = k2011_project(team, kind="single_choice")
    data = compute(project)
    assert round(data["alpha"]["value"], 3) == 0.743
    assert data["alpha"]["n"] == 11  # unit 12 has one value only: not pairable
    low, high = data["alpha"]["ci"]
    assert low < 0.743 < high
    client.force_login(team.lead)
    html = page(client, project).content.decode()
    assert "0.743" in html and "nominal" in html


@pytest.mark.parametrize(("level", "expected"), [("ordinal", 0.815), ("interval", 0.849)])
def test_rating_projects_use_the_level_the_lead_sets(team, level, expected, compute):
    project = k2011_project(team, kind="rating")
    ReviewPolicy.objects.create(project=project, rating_level=level)
    data = compute(project)
    assert (data["level"], round(data["alpha"]["value"], 3)) == (level, expected)
    figures = data["kind_figures"]
    assert round(figures["ordinal_alpha"]["value"], 3) == 0.815
    assert round(figures["interval_alpha"]["value"], 3) == 0.849


def test_the_page_and_the_csv_show_the_same_numbers(team, client, compute):
    project = k2011_project(team, kind="single_choice")
    data = compute(project)
    client.force_login(team.reviewer)
    url = reverse("adjudication:agreement_csv", kwargs={"slug": project.slug, "table": "summary"})
    response = client.get(url)
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = {row["statistic"]: row for row in csv.DictReader(io.StringIO(response.content.decode()))}
    assert rows["alpha"]["value"] == f"{data['alpha']['value']:.3f}" == "0.743"
    assert rows["fleiss"]["value"] == f"{data['fleiss']['value']:.3f}"
    html = page(client, project).content.decode()
    for key in ("fleiss", "ac1", "percent"):
        assert f"{data[key]['value']:.3f}" in html
    # Fleiss' kappa needs a fixed count: units 1, 10, 11 and 12 have fewer than four ratings.
    assert data["fleiss"]["excluded"] == 4
    assert "4 items without 4 annotations left out." in html
    for table in ("pairwise", "per_label", "per_annotator", "trend"):
        url = reverse("adjudication:agreement_csv", kwargs={"slug": project.slug, "table": table})
        body = client.get(url).content.decode()
        assert len(body.splitlines()) >= 2, table
        if table == "pairwise":
            assert body.splitlines()[0].endswith("scotts_pi")


def test_per_annotator_rows_carry_time_and_gold_accuracy(team, compute):
    project = k2011_project(team, kind="single_choice")
    first = project.items.filter(annotations__isnull=False).order_by("pk").first()  # unit 1
    first.gold = {"label": "1"}
    first.save()
    data = compute(project)
    rows = {row["name"]: row for row in data["per_annotator"]}
    assert rows["anna_1"]["median_seconds"] == 3.0
    # Dawid–Skene beside majority vote: every annotator gets an estimated accuracy.
    assert all(0.0 <= row["ds_accuracy"] <= 1.0 for row in rows.values())
    assert data["dawid_skene"]["items"] == 11  # unit 1 is gold here: left out
    assert rows["anna_1"]["gold_accuracy"]["value"] == 1.0  # gave 1 on unit 1
    assert rows["anna_3"]["gold_accuracy"]["value"] is None  # did not rate unit 1
    assert rows["anna_3"]["gold_accuracy"]["reason"]


def test_undefined_figures_say_why_and_never_show_nan(team, client, compute):
    project = team.project
    LabelSchema.objects.create(project=project, config=CHOICES)
    for item in project.items.all():
        for annotator in team.annotators:
            Annotation.objects.create(item=item, annotator=annotator, value={"label": "1"})
    data = compute(project)
    assert data["alpha"]["value"] is None and data["alpha"]["reason"]
    client.force_login(team.lead)
    html = page(client, project).content.decode()
    assert "undefined" in html.lower()
    assert not re.search(r"\bnan\b|\binf\b", html, re.IGNORECASE)


def test_the_page_costs_the_same_queries_for_few_or_many_items(team, client, compute):
    project = k2011_project(team, kind="single_choice")
    compute(project)
    client.force_login(team.lead)
    page(client, project)  # warms the session
    with CaptureQueriesContext(connection) as few:
        assert page(client, project).status_code == 200
    for item in ItemFactory.create_batch(300, project=project):
        for annotator in team.annotators:
            Annotation.objects.create(item=item, annotator=annotator, value={"label": "2"})
    compute(project)
    with CaptureQueriesContext(connection) as many:
        assert page(client, project).status_code == 200
    assert len(many) == len(few)


def test_changed_annotations_make_the_page_recompute(team, client, compute, run_jobs):
    project = k2011_project(team, kind="single_choice")
    compute(project)
    snapshot = AgreementSnapshot.objects.get(project=project)
    snapshot.stale_since = snapshot.computed_at  # annotations changed since
    snapshot.computed_at = snapshot.computed_at.replace(year=2020)
    snapshot.save()
    client.force_login(team.lead)
    with run_jobs():
        response = page(client, project)
    assert response.status_code == 200
    assert JobRun.objects.filter(project=project, kind="agreement", status="done").count() == 2
    assert AgreementSnapshot.objects.get(project=project).stale_since is None


def test_unknown_sort_is_refused(team, client):
    client.force_login(team.lead)
    assert page(client, team.project, sort="annotator__password").status_code == 400


def test_csv_cells_never_start_a_formula(team, client, compute):
    project = team.project
    LabelSchema.objects.create(project=project, config=CHOICES)
    sneaky = UserFactory(username="@SUM(1+1)")
    for item in project.items.all()[:3]:
        Annotation.objects.create(item=item, annotator=sneaky, value={"label": "1"})
        Annotation.objects.create(item=item, annotator=team.annotator, value={"label": "2"})
    compute(project)
    client.force_login(team.lead)
    url = reverse("adjudication:agreement_csv",
                  kwargs={"slug": project.slug, "table": "per_annotator"})  # fmt: skip
    body = client.get(url).content.decode()
    assert "'@SUM(1+1)" in body and "\n@SUM" not in body


def test_the_items_behind_a_pair_and_the_confusion_matrix(team, client, compute):
    project = k2011_project(team, kind="single_choice")
    compute(project)
    a, c = team.annotators[0], team.annotators[2]
    client.force_login(team.reviewer)
    url = reverse("adjudication:agreement_confusion", kwargs={"slug": project.slug})
    response = client.get(url, {"a": a.pk, "b": c.pk})
    found = response.context["found"]
    # Units 2 to 9 are rated by both: they differ on units 2, 6 and 8.
    assert found["n"] == 8 and len(found["differ"]) == 3
    assert sum(map(sum, found["matrix"])) == 8
    assert client.get(url, {"a": "x"}).status_code == 400
    items = reverse("adjudication:agreement_items", kwargs={"slug": project.slug})
    assert client.get(items, {"a": a.pk, "b": c.pk}).status_code == 200


def test_a_run_whose_message_was_lost_is_sent_again(team, run_jobs):
    """A queued run nobody performs (its process died before sending it) would hold every
    later refresh; after a minute the next refresh sends it again, and it completes once."""
    project = k2011_project(team, kind="single_choice")
    lost = JobRun.objects.create(project=project, kind="agreement")
    JobRun.objects.filter(pk=lost.pk).update(created_at=timezone.now() - timedelta(minutes=2))
    with run_jobs():
        assert agreement_refresh_if_stale(project=project) == lost
    lost.refresh_from_db()
    assert (lost.status, lost.attempts) == ("done", 1)
    assert round(AgreementSnapshot.objects.get(project=project).data["alpha"]["value"], 3) == 0.743
