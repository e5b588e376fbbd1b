"""The wrong-label job on a project: flipped final labels are found and sent back for review
with the model's suggestion, a careless annotator is flagged, and a rerun doubles nothing."""

import random
from contextlib import contextmanager

import pytest

from adjudication.models import Review
from annotation.models import Annotation, LabelSchema
from curation.models import Finding, Role
from curation.quality.findings import finding_resolve
from curation.quality.registry import quality_job_start
from tests.conftest import jobs_in_process
from tests.factories import ItemFactory, MembershipFactory, ProjectFactory, UserFactory

pytestmark = pytest.mark.django_db

WORDS = {
    "billing": "invoice charge refund payment card billed price receipt",
    "technical": "crash error bug login broken install update freeze",
    "shipping": "parcel delivery courier tracking shipped arrived package address",
}


@pytest.fixture
def run_job(django_capture_on_commit_callbacks):
    @contextmanager
    def running():
        with jobs_in_process(), django_capture_on_commit_callbacks(execute=True):
            yield

    def run(project, user, **params):
        with running():
            job = quality_job_start(project=project, kind="label_noise", user=user, params=params)
        job.refresh_from_db()
        return job

    return run


def noisy_project(flips: int = 9):
    """90 settled items in three separable classes, `flips` of them with a wrong final label;
    five annotators, one of them answering at random."""
    rng = random.Random(1)
    project = ProjectFactory(annotators_per_item=3)
    lead = UserFactory()
    MembershipFactory(project=project, user=lead, role=Role.LEAD)
    classes = list(WORDS)
    LabelSchema.objects.create(project=project,
                               config={"labels": [{"value": c} for c in classes]})  # fmt: skip
    names = ("careful", "steady", "keen", "exact", "careless")
    people = [UserFactory(username=name) for name in names]
    flipped = set()
    for i in range(90):
        truth = classes[i % 3]
        words = WORDS[truth].split()
        text = " ".join(rng.choice(words) for _ in range(12))
        item = ItemFactory(project=project, data={"text": text})
        given = truth
        if i < flips:
            given = classes[(i + 1) % 3]
            flipped.add(item.pk)
        for person in people:
            label = truth if person.username != "careless" else rng.choice(classes)
            Annotation.objects.create(item=item, annotator=person, value={"label": label})
        Review.objects.create(item=item, project=project, status="auto",
                              value={"label": given}, rule="majority")  # fmt: skip
    return project, lead, flipped


def test_flipped_labels_are_found_and_sent_back_with_the_suggestion(run_job):
    project, lead, flipped = noisy_project()
    run = run_job(project, lead)
    assert run.status == "done", run.message
    suspects = Finding.objects.filter(project=project, kind="wrong_label")
    found = set(suspects.values_list("item_id", flat=True))
    assert len(found & flipped) >= 8 and len(found - flipped) <= 2
    first = suspects.filter(item_id__in=flipped).first()
    assert first.detail["suggested"] != first.detail["given"]
    waiting = Review.objects.filter(project=project, status="waiting")
    assert set(waiting.values_list("item_id", flat=True)) == found
    assert "Likely wrong label" in waiting.first().events.last().note
    careless = Finding.objects.get(project=project, kind="annotator")
    assert careless.key == "annotator:careless" and "far below" in careless.message


def test_a_rerun_doubles_nothing_and_respects_dismissed_suspects(run_job):
    project, lead, flipped = noisy_project()
    given = dict(Review.objects.filter(project=project).values_list("item_id", "value"))
    run_job(project, lead)
    suspect = Finding.objects.filter(project=project, kind="wrong_label").first()
    finding_resolve(finding=suspect, user=lead, status="not_a_problem")
    # The reviewers keep every label as it was (the requeued items are settled once more).
    for review in Review.objects.filter(project=project, status="waiting"):
        review.status, review.value, review.requeued = "auto", given[review.item_id], False
        review.save()
    before = Finding.objects.filter(project=project).count()
    second = run_job(project, lead)
    assert Finding.objects.filter(project=project).count() == before
    suspects = Finding.objects.filter(project=project, kind="wrong_label").count()
    assert second.counts["requeued"] == suspects - 1  # all but the dismissed one
    suspect.refresh_from_db()
    assert suspect.status == "not_a_problem"
    assert not Review.objects.filter(item=suspect.item, status="waiting").exists()


def test_projects_that_are_not_single_choice_are_refused_plainly(run_job):
    project = ProjectFactory()
    LabelSchema.objects.create(project=project, kind="rating",
                               config={"scale": [{"value": 1}, {"value": 2}]})  # fmt: skip
    run = run_job(project, None)
    assert run.status == "failed" and "single-choice" in run.message
