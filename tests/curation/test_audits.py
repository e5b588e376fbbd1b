"""Sample audits of a frozen version: the draw (labelled records only, seeded, stratified by
label in exact proportions, capped at the population), judging with optimistic concurrency,
the correct value checked against the label schema, and the report per label with Wilson
intervals. Versions are built by hand, as frozen rows."""

import json

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from annotation.models import LabelSchema
from curation.audits import Conflict, audit_draw, audit_report, audit_sample_judge, label_choices
from curation.models import (
    AuditEvent,
    AuditKind,
    DatasetVersion,
    SyntheticBatch,
    Verdict,
    VersionRecord,
)
from curation.proportions import wilson_interval
from tests.factories import ItemFactory

LABELS = {"labels": [{"value": "pos"}, {"value": "neg"}, {"value": "neu"}]}


def make_version(project, labels: list, number: int = 1) -> DatasetVersion:
    """A frozen version whose records carry `labels` in order (None: no final label)."""
    version = DatasetVersion.objects.create(
        project=project, number=number, content_hash="0" * 64, item_count=len(labels)
    )
    items = ItemFactory.create_batch(len(labels), project=project)
    VersionRecord.objects.bulk_create(
        VersionRecord(
            version=version,
            position=position,
            item_id=item.pk,
            external_id=item.external_id,
            split="train",
            label=label or "",
            label_key=json.dumps({"label": label}, sort_keys=True) if label else "",
            rule="majority" if label else "",
            record="{}",
        )  # fmt: skip
        for position, (item, label) in enumerate(zip(items, labels, strict=True), start=1)
    )
    return version


def judge(sample, reviewer, verdict, **kwargs):
    return audit_sample_judge(
        sample=sample, reviewer=reviewer, verdict=verdict, revision=sample.revision, **kwargs
    )


def test_a_draw_samples_labelled_records_only_and_records_itself(team):
    """Records without a final label are not audited; the size is capped at the population;
    the sample keeps the label and value as audited; the lead's draw is in the audit trail."""
    version = make_version(team.project, ["pos", None, "neg", "pos", None])
    audit = audit_draw(project=team.project, user=team.lead, version=version, size=200, seed=5)
    samples = list(audit.samples.order_by("position"))
    assert audit.size == len(samples) == 3
    assert {s.label for s in samples} == {"pos", "neg"}
    assert all(s.value == {"label": s.label} for s in samples)
    assert [s.position for s in samples] == [1, 2, 3]
    event = AuditEvent.objects.get(kind=AuditKind.SAMPLE_AUDIT_CREATED)
    assert event.actor == team.lead
    assert event.detail["audit"] == audit.pk and event.detail["seed"] == 5


def test_the_same_seed_draws_the_same_sample_and_a_missing_seed_is_kept(team):
    version = make_version(team.project, ["pos"] * 30 + ["neg"] * 20)

    def drawn(audit):
        return list(audit.samples.order_by("position").values_list("item_id", flat=True))

    first = audit_draw(project=team.project, user=team.lead, version=version, size=10, seed=99)
    again = audit_draw(project=team.project, user=team.lead, version=version, size=10, seed=99)
    other = audit_draw(project=team.project, user=team.lead, version=version, size=10, seed=100)
    assert drawn(first) == drawn(again) != drawn(other)
    unseeded = audit_draw(project=team.project, user=team.lead, version=version, size=10)
    replay = audit_draw(project=team.project, user=team.lead, version=version, size=10,
                        seed=unseeded.seed)  # fmt: skip
    assert drawn(unseeded) == drawn(replay)


def test_a_stratified_draw_allocates_in_proportion_to_each_label(team):
    """120 pos, 60 neg, 20 neu → 12, 6 and 2 of a sample of 20."""
    version = make_version(team.project, ["pos"] * 120 + ["neg"] * 60 + ["neu"] * 20)
    audit = audit_draw(project=team.project, user=team.lead, version=version, size=20, seed=1,
                       stratified=True)  # fmt: skip
    labels = list(audit.samples.values_list("label", flat=True))
    assert {name: labels.count(name) for name in ("pos", "neg", "neu")} == {
        "pos": 12, "neg": 6, "neu": 2,
    }  # fmt: skip
    assert audit.stratified


def test_a_draw_needs_something_to_audit(team):
    """No labelled record, no source, another project's version, a zero size: refused."""
    empty = make_version(team.project, [None, None])
    with pytest.raises(ValidationError) as exc:
        audit_draw(project=team.project, user=team.lead, version=empty, size=10)
    assert "version" in exc.value.message_dict
    with pytest.raises(ValidationError) as exc:
        audit_draw(project=team.project, user=team.lead, size=10)
    foreign = make_version(team.other_project, ["pos"])
    with pytest.raises(ValidationError):
        audit_draw(project=team.project, user=team.lead, version=foreign, size=10)
    with pytest.raises(ValidationError) as exc:
        audit_draw(project=team.project, user=team.lead, version=empty, size=0)
    assert "size" in exc.value.message_dict


def test_judging_updates_the_report_overall_and_per_label(team):
    """3 pos (1 incorrect) and 2 neg (2 incorrect): 3/5 overall, 1/3 and 2/2 per label, each
    with its Wilson interval; the incorrect samples carry the correct value."""
    LabelSchema.objects.create(project=team.project, kind="single_choice", config=LABELS)
    version = make_version(team.project, ["pos", "pos", "pos", "neg", "neg"])
    audit = audit_draw(project=team.project, user=team.lead, version=version, size=5, seed=0)
    report = audit_report(audit)
    assert (report.overall.judged, report.overall.remaining, report.overall.rate) == (0, 5, None)
    pos = list(audit.samples.filter(label="pos").order_by("position"))
    neg = list(audit.samples.filter(label="neg"))
    judge(pos[0], team.reviewer, Verdict.INCORRECT, correct_value={"label": "neu"})
    judge(pos[1], team.reviewer, Verdict.CORRECT)
    judge(pos[2], team.lead, Verdict.CORRECT)
    judge(neg[0], team.reviewer, Verdict.INCORRECT, comment="Clearly positive.")
    report = audit_report(audit)
    assert (report.overall.judged, report.overall.remaining, report.overall.incorrect) == (4, 1, 2)
    judge(neg[1], team.reviewer, Verdict.INCORRECT, correct_value={"label": "pos"})
    report = audit_report(audit)
    assert report.complete
    assert report.overall.rate == pytest.approx(3 / 5)
    assert report.overall.interval == wilson_interval(3, 5)
    by_label = {rate.label: rate for rate in report.per_label}
    assert (by_label["pos"].judged, by_label["pos"].incorrect) == (3, 1)
    assert (by_label["neg"].judged, by_label["neg"].incorrect) == (2, 2)
    assert by_label["neg"].interval[1] == 1.0
    wrong = {s.external_id: s for s in report.incorrect}
    assert wrong[pos[0].external_id].correct_value == {"label": "neu"}
    assert wrong[neg[0].external_id].comment == "Clearly positive."
    assert wrong[neg[0].external_id].correct_value is None


def test_a_stale_revision_is_a_conflict_and_changes_nothing(team):
    version = make_version(team.project, ["pos", "neg"])
    audit = audit_draw(project=team.project, user=team.lead, version=version, size=2, seed=0)
    sample = audit.samples.first()
    stale = sample.revision
    judged = judge(sample, team.reviewer, Verdict.CORRECT)
    assert judged.revision == stale + 1
    with pytest.raises(Conflict):
        audit_sample_judge(sample=sample, reviewer=team.lead, verdict=Verdict.INCORRECT,
                           comment="Overwrite?", revision=stale)  # fmt: skip
    sample.refresh_from_db()
    assert (sample.verdict, sample.reviewer, sample.comment) == (Verdict.CORRECT, team.reviewer, "")
    assert audit_report(audit).overall.incorrect == 0
    # With the current revision the verdict can change.
    judge(sample, team.lead, Verdict.INCORRECT)
    sample.refresh_from_db()
    assert (sample.verdict, sample.revision) == (Verdict.INCORRECT, stale + 2)


def test_the_correct_value_must_fit_the_schema(team):
    """A value outside the schema is refused, naming the field; so is the audited value itself
    as the correction, and a verdict other than correct or incorrect."""
    LabelSchema.objects.create(project=team.project, kind="single_choice", config=LABELS)
    version = make_version(team.project, ["pos"])
    audit = audit_draw(project=team.project, user=team.lead, version=version, size=1, seed=0)
    sample = audit.samples.get()
    for bad in ({"label": "nonsense"}, {"label": "pos"}, "pos"):
        with pytest.raises(ValidationError) as exc:
            judge(sample, team.reviewer, Verdict.INCORRECT, correct_value=bad)
        assert list(exc.value.message_dict) == ["correct_value"]
    with pytest.raises(ValidationError) as exc:
        judge(sample, team.reviewer, "maybe")
    assert list(exc.value.message_dict) == ["verdict"]
    sample.refresh_from_db()
    assert (sample.verdict, sample.revision) == (Verdict.PENDING, 0)
    # A correct verdict drops a correct value sent along.
    judged = judge(sample, team.reviewer, Verdict.CORRECT, correct_value={"label": "neg"})
    assert judged.correct_value is None


def test_label_choices_offer_the_versions_single_choice_labels(team):
    version = make_version(team.project, ["pos", "neg", "pos", None])
    audit = audit_draw(project=team.project, user=team.lead, version=version, size=1, seed=0)
    assert label_choices(audit) == [("neg", '{"label": "neg"}'), ("pos", '{"label": "pos"}')]
    spans = make_version(team.project, [], number=2)
    item = ItemFactory(project=team.project)
    spans.records.create(position=1, item_id=item.pk, external_id=item.external_id, split="train",
                         label="ORG", label_key='{"spans": []}', record="{}")  # fmt: skip
    audit = audit_draw(project=team.project, user=team.lead, version=spans, size=1, seed=0)
    assert label_choices(audit) == []


# --- pages ------------------------------------------------------------------------------------


def page(name, team, **kwargs):
    return reverse(f"curation:{name}", kwargs={"slug": team.project.slug, **kwargs})


def test_the_judging_page_saves_a_verdict_and_brings_the_next_sample(client_for, team):
    """htmx gets the next card, with the running error rate; item text is escaped inside an
    hx-disable container."""
    version = make_version(team.project, ["pos", "neg"])
    for record in version.records.all():
        team.project.items.filter(pk=record.item_id).update(
            data={"text": "<script>alert(1)</script> fine"}
        )
    audit = audit_draw(project=team.project, user=team.lead, version=version, size=2, seed=0)
    client = client_for(team.reviewer)
    first = audit.samples.get(position=1)
    response = client.get(page("audit_judge", team, audit_id=audit.pk) + f"?at={first.position}")
    assert response.status_code == 200
    html = response.content.decode()
    assert "&lt;script&gt;alert(1)&lt;/script&gt; fine" in html
    assert 'class="item-text" id="judge-text" hx-disable' in html
    form = {"position": 1, "revision": 0, "verdict": "incorrect", "correct_value": ""}
    response = client.post(
        page("audit_judge", team, audit_id=audit.pk), form, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="judge-card"' in html and "<html" not in html
    assert "Sample 2 of 2" in html
    assert "Judged 1 of 2" in html and "100.0%" in html
    form = {"position": 2, "revision": 0, "verdict": "correct"}
    response = client.post(
        page("audit_judge", team, audit_id=audit.pk), form, HTTP_HX_REQUEST="true"
    )
    assert "Every sample is judged" in response.content.decode()
    assert "50.0%" in response.content.decode()


def test_a_stale_verdict_on_the_page_is_refused_with_409(client_for, team):
    version = make_version(team.project, ["pos"])
    audit = audit_draw(project=team.project, user=team.lead, version=version, size=1, seed=0)
    sample = audit.samples.get()
    judge(sample, team.lead, Verdict.CORRECT)
    form = {"position": 1, "revision": 0, "verdict": "incorrect"}
    response = client_for(team.reviewer).post(page("audit_judge", team, audit_id=audit.pk), form)
    assert response.status_code == 409
    assert "changed since you opened it" in response.content.decode()
    sample.refresh_from_db()
    assert (sample.verdict, sample.reviewer) == (Verdict.CORRECT, team.lead)
    bad = {"position": 1, "revision": 1, "verdict": "incorrect", "correct_value": "{oops"}
    response = client_for(team.reviewer).post(page("audit_judge", team, audit_id=audit.pk), bad)
    assert response.status_code == 400
    assert "not valid JSON" in response.content.decode()


def test_the_report_page_and_csv_show_rates_and_verdicts(client_for, team):
    version = make_version(team.project, ["pos", "pos", "neg"])
    audit = audit_draw(project=team.project, user=team.lead, version=version, size=3, seed=0)
    for sample in audit.samples.all():
        wrong = sample.label == "neg"
        verdict = Verdict.INCORRECT if wrong else Verdict.CORRECT
        value = {"label": "=pos"} if wrong else None
        judge(
            sample, team.reviewer, verdict, correct_value=value, comment="=cmd()" if wrong else ""
        )
    client = client_for(team.reviewer)
    html = client.get(page("audit", team, audit_id=audit.pk)).content.decode()
    low, high = wilson_interval(1, 3)
    assert "33.3%" in html and f"{100 * low:.1f}%" in html and f"{100 * high:.1f}%" in html
    response = client.get(page("audit_csv", team, audit_id=audit.pk))
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    lines = response.content.decode().splitlines()
    assert lines[0].startswith("position,item_id,external_id,audited_label")
    assert len(lines) == 4
    assert "'=cmd()" in response.content.decode()  # formula-like cells neutralised


def test_a_lead_draws_from_the_list_page(client_for, team):
    make_version(team.project, ["pos"] * 5)
    client = client_for(team.lead)
    html = client.get(page("audits", team)).content.decode()
    assert 'value="version:1"' in html
    response = client.post(page("audit_create", team), {"source": "version:1", "size": 3})
    audit = team.project.sample_audits.get()
    assert response.status_code == 302 and response.url == page("audit", team, audit_id=audit.pk)
    assert audit.size == 3
    response = client.post(page("audit_create", team), {"source": "version:7", "size": 3})
    assert response.status_code == 400
    html = client_for(team.reviewer).get(page("audits", team)).content.decode()
    assert "Draw the sample" not in html and f"Audit {audit.pk}" in html


def test_the_batches_page_sets_a_threshold_and_collects_loose_items(client_for, team):
    ItemFactory(project=team.project, source="synthetic")
    client = client_for(team.lead)
    html = client.get(page("batches", team)).content.decode()
    assert "1 synthetic item arrived one by one" in html
    assert client.post(page("batch_collect", team)).status_code == 302
    batch = SyntheticBatch.objects.get(project=team.project)
    response = client.post(
        page("batch_threshold", team, batch_id=batch.pk), {"max_error_rate": "2.5"}
    )
    assert response.status_code == 302
    batch.refresh_from_db()
    assert batch.max_error_rate == pytest.approx(0.025)
    response = client.post(
        page("batch_threshold", team, batch_id=batch.pk), {"max_error_rate": "101"}
    )
    assert response.status_code == 400
