"""A project whose every data field holds payloads of the corpus, built through the real
services and jobs (import, reviews, quality jobs, reference sets, freezing, cards, audits), so
that the data looks as it does in use.

Places (the part of a marker after "xss") say where a payload was stored:

  prj, desc, guide       project name, description, guidelines (Markdown)
  lblv, lblt, lbld       label values, label texts, label descriptions
  item, eid, mkey, mval  item text, external ids, metadata keys and values
  src                    item source
  file, err              uploaded file names, import error messages
  why, gcom, rq, res     decision rationale, guideline comment, requeue note, resolution note
  ref, rtxt              reference set name, reference texts
  dref, dval, dfile      distribution reference name, its values, its file name
  ver, card              version note, dataset card sections
  anote, acom            audit note, audit comment

Usernames can hold only letters, digits and `.@+-_`, so no payload fits; the hostile annotator
gets a name with each of those characters and a marker (`xssuser01`). First and last names are
shown on no page, so they hold no payloads.
"""

import io
import json
from contextlib import AbstractContextManager
from dataclasses import dataclass, field

import orjson
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from adjudication.models import AgreementSnapshot, Review, ReviewStatus
from adjudication.report import agreement_report
from adjudication.services import review_decide, review_requeue
from annotation.gold import gold_set
from annotation.models import LabelSchema, SchemaKind
from annotation.schemas import config_problems
from curation.audits import audit_draw, audit_sample_judge
from curation.batches import batch_threshold_set
from curation.distribution_data import distribution_reference_create
from curation.exporting.files import export_start
from curation.importing.files import import_start
from curation.models import Finding, FindingKind, JobStatus, Verdict
from curation.quality.findings import finding_resolve
from curation.quality.registry import quality_job_start
from curation.references import reference_upload_start
from curation.services import project_update
from curation.versions import card_revision, version_card_update
from curation.versions.freeze import version_freeze_start
from tests.hostile.payloads import FILE_NAME, MARKDOWN, PAYLOADS, all_at, joined, stamped

HOSTILE_USERNAME = "x.s+s@xssuser01-q_\u00fc"
# Long shared wording, so near-duplicate and leakage checks find pairs among hostile items.
SHARED = (
    "The parcel with my order never arrived although tracking said it was delivered to the "
    "front door last Tuesday afternoon, and nobody from support answered my three emails."
)
PLACES = ("prj", "desc", "guide", "lblv", "lblt", "lbld", "item", "eid", "mkey", "mval", "src",
          "file", "err", "why", "gcom", "rq", "res", "ref", "rtxt", "dref", "dval", "dfile", "ver",
          "card", "anote", "acom", "user")  # fmt: skip
# Places whose text stands for item content: pages showing them keep them under hx-disable.
ITEM_PLACES = frozenset({"item", "mval", "why", "gcom", "acom", "rtxt"})


@dataclass
class Hostile:
    """The hostile project and what tests need to reach its pages."""

    project: object
    lead: object
    reviewer: object
    annotator: object
    labels: list[str]
    versions: list[int] = field(default_factory=list)
    audit_id: int = 0
    batch_id: int = 0
    reference_set_id: int = 0
    reference_id: int = 0
    finding_id: int = 0
    failed_import_id: int = 0
    export_id: int = 0
    import_id: int = 0
    review_item_id: int = 0
    metadata_key: str = "channel"

    def audit_sample_id(self) -> int:
        return self.project.sample_audits.get(pk=self.audit_id).samples.get(position=1).pk


def _labels() -> list[dict]:
    values = all_at("lblv", limit=100, strip_safe=True)[:3]
    texts = all_at("lblt", limit=100, strip_safe=True)[3:6]
    descriptions = all_at("lbld", limit=500)[6:9]
    labels = [
        {"value": v, "text": t, "description": d, "hotkey": str(i)}
        for i, (v, t, d) in enumerate(zip(values, texts, descriptions, strict=True), start=1)
    ]
    labels.append({"value": "javascript:alert('xsslblv40')", "description": "bare"})
    return labels


def _rows(labels: list[str], annotators: list[str]) -> list[dict]:
    """One item per payload (text, id, metadata, split), the first ten labeled by three people:
    six with three different labels (they wait for review), four with a majority."""
    rows = []
    for i, payload in enumerate(PAYLOADS):
        row = {
            "id": payload.at("eid"),
            "text": f"{payload.at('item')} Order {i}: it is late.",
            "channel": payload.at("mval"),
            payload.at("mkey")[:60]: "yes",
            "split": "train" if i % 2 else "test",
            "source": payload.at("src") if len(payload.at("src")) <= 32 else "vendor",
        }
        if i < 10:
            picks = [0, 1, 2] if i < 6 else [0, 0, 1]
            row["annotations"] = [
                {"annotator": name, "value": {"label": labels[pick]}}
                for name, pick in zip(annotators, picks, strict=True)
            ]
        rows.append(row)
    # Near-duplicates (two train items) and leakage (the same text in train and test).
    rows += [
        {"id": "dup-a", "text": f"{SHARED} {PAYLOADS[0].at('item')}", "split": "train"},
        {"id": "dup-b", "text": f"{SHARED} {PAYLOADS[1].at('item')}!", "split": "train"},
        {"id": "leak-train", "text": f"{PAYLOADS[2].at('item')} {SHARED}", "split": "train"},
        {"id": "leak-test", "text": f"{PAYLOADS[2].at('item')} {SHARED}", "split": "test"},
        {"id": "synthetic-1", "text": f"{PAYLOADS[7].at('item')} generated", "split": "train",
         "source": "synthetic"},
        {"id": "synthetic-2", "text": f"{PAYLOADS[8].at('item')} generated", "split": "train",
         "source": "synthetic"},
    ]  # fmt: skip
    return rows


def _jsonl(rows: list[dict]) -> bytes:
    return b"".join(orjson.dumps(row) + b"\n" for row in rows)


# Lines whose problems the import report names, echoing payloads in field names and values.
BAD_LINES = b"\n".join(
    [
        json.dumps({"id": "bad-1", "<script>alert('xsserr01')</script>": 1}).encode(),
        json.dumps({"text": "ok", "split": "<img src=x onerror=alert('xsserr02')>"}).encode(),
        json.dumps(
            {
                "text": "ok",
                "annotations": [
                    {"annotator": "anna_1", "value": {"label": "<svg onload=alert('xsserr03')>"}}
                ],
            }
        ).encode(),  # fmt: skip
        json.dumps({"text": "ok", "metadata": "<iframe srcdoc=xsserr04>"}).encode(),
        b"{not json <script>alert('xsserr05')</script>",
    ]
)


def build_hostile_project(team, *, jobs) -> Hostile:
    """Fills `team.project` with payloads. `jobs()` is a context manager within which queued
    jobs run when it exits (on commit in the test's transaction)."""
    project, lead = team.project, team.lead
    project.items.all().delete()  # the team's plain items would be labeled first
    project_update(
        project=project, name=PAYLOADS[0].at("prj") + " " + PAYLOADS[1].at("prj"),
        description=joined("desc"),
        guidelines="# Guidelines\n\n" + "\n\n".join(stamped(MARKDOWN, "guide")) + "\n\n"
        + joined("guide"),
    )  # fmt: skip
    config = {"labels": _labels()}
    assert config_problems(SchemaKind.SINGLE_CHOICE, config) == []
    LabelSchema.objects.create(project=project, kind=SchemaKind.SINGLE_CHOICE, config=config)
    labels = [entry["value"] for entry in config["labels"]]
    annotators = [team.annotators[1].username, team.annotators[2].username, HOSTILE_USERNAME]
    found = Hostile(project, lead, team.reviewer, team.annotator, labels)

    filename = FILE_NAME.format(m="xssfile01")
    content = _jsonl(_rows(labels, annotators))
    with jobs():
        run = import_start(project=project, user=lead, filename=filename, options={},
                           source=SimpleUploadedFile(filename, content))  # fmt: skip
    run.refresh_from_db()
    assert run.status == JobStatus.DONE, (run.message, run.errors[:3])
    found.import_id = run.pk
    bad_name = "\"><svg onload=alert('xssfile02')>.jsonl"
    with jobs():
        bad = import_start(project=project, user=lead, filename=bad_name, options={},
                           source=SimpleUploadedFile(bad_name, BAD_LINES))  # fmt: skip
    bad.refresh_from_db()
    assert bad.status == JobStatus.FAILED and bad.errors, bad.message
    found.failed_import_id = bad.pk

    _reviews(team, found)
    _quality(team, found, jobs)
    _versions(team, found, jobs)
    found.reference_id = distribution_reference_create(
        project=project, user=lead, filename=FILE_NAME.format(m="xssdfile01")[:-6] + ".csv",
        name=PAYLOADS[2].at("dref"), field="label", column="label",
        upload=io.BytesIO(("label\n" + "\n".join(all_at("dval", strip_safe=True) + labels))
                          .encode()),
    ).pk  # fmt: skip
    with jobs():
        export = export_start(project=project, user=lead, fmt="csv", mode="annotations")
    export.refresh_from_db()
    assert export.status == JobStatus.DONE, export.message
    found.export_id = export.pk
    return found


def _reviews(team, found: Hostile) -> None:
    """A decision with a rationale and a guideline comment, a requeue note, a gold item and the
    agreement figures."""
    project = found.project
    waiting = list(Review.objects.filter(project=project, status=ReviewStatus.WAITING)
                   .select_related("item").order_by("item_id"))  # fmt: skip
    assert len(waiting) >= 4, [r.status for r in Review.objects.filter(project=project)]
    review_decide(review=waiting[0], reviewer=team.reviewer, value={"label": found.labels[1]},
                  rationale=joined("why"), guidelines_unclear=True,
                  guideline_comment=joined("gcom"))  # fmt: skip
    for review in waiting[1:3]:  # labeled records for the version and its audit
        review_decide(review=review, reviewer=team.reviewer, value={"label": found.labels[2]},
                      rationale=PAYLOADS[3].at("why"))  # fmt: skip
    # Sent back for a second look: its page shows the decision, the rationale and the note.
    review_requeue(item=waiting[0].item, lead=team.lead, note=joined("rq", limit=1000))
    found.review_item_id = waiting[0].item_id
    gold_item = project.items.get(external_id=PAYLOADS[-1].at("eid"))
    gold_set(item=gold_item, value={"label": found.labels[0]}, user=team.lead)
    AgreementSnapshot.objects.update_or_create(
        project=project,
        defaults={"data": agreement_report(project=project), "computed_at": timezone.now()},
    )


def _quality(team, found: Hostile, jobs) -> None:
    """Reference set upload, then every quality job; one finding resolved with a note."""
    project, lead = found.project, team.lead
    texts = [{"text": f"{PAYLOADS[2].at('item')} {SHARED}"}] + [
        {"text": text} for text in all_at("rtxt")
    ]
    name = FILE_NAME.format(m="xssref01")
    with jobs():
        run = reference_upload_start(project=project, user=lead, filename=name,
                                     name=PAYLOADS[0].at("ref"), fmt="", text_field="text",
                                     source=SimpleUploadedFile(name, _jsonl(texts)))  # fmt: skip
    run.refresh_from_db()
    assert run.status == JobStatus.DONE, (run.message, run.errors[:3])
    found.reference_set_id = project.reference_sets.get().pk
    for kind in ("item_checks", "leakage", "near_duplicates", "reference_leakage", "label_noise"):
        params = {"reference_set": found.reference_set_id} if kind == "reference_leakage" else {}
        with jobs():
            run = quality_job_start(project=project, kind=kind, user=lead, params=params)
        run.refresh_from_db()
        # Wrong-label detection needs 20 labeled items: its failure is one more message shown.
        assert run.status == (JobStatus.FAILED if kind == "label_noise" else JobStatus.DONE), (
            kind, run.message)  # fmt: skip
    leakage = Finding.objects.filter(project=project, kind=FindingKind.LEAKAGE).order_by("pk")
    assert leakage.exists()
    found.finding_id = leakage.first().pk
    resolved = Finding.objects.filter(project=project).exclude(pk=found.finding_id).first()
    if resolved is not None:
        finding_resolve(finding=resolved, user=lead, status="not_a_problem",
                        note=joined("res", limit=1000))  # fmt: skip


def _versions(team, found: Hostile, jobs) -> None:
    """Versions 1 and 2 (a decision in between), the card of 1 written with payloads, an audit
    of version 1 with a judged sample, and the synthetic batch's threshold set."""
    project, lead = found.project, team.lead
    text = "\n\n".join(stamped(MARKDOWN, "card")) + "\n\n" + joined("card")
    sections = dict.fromkeys(("motivation", "collection", "limitations", "uses", "out_of_scope"),
                             text)  # fmt: skip
    for number in (1, 2):
        with jobs():
            run = version_freeze_start(project=project, user=lead, note=joined("ver", limit=500))
        run.refresh_from_db()
        assert run.status == JobStatus.DONE, run.message
        found.versions.append(number)
        if number == 1:
            version = project.versions.get(number=1)
            version_card_update(version=version, user=lead, sections=sections,
                                revision=card_revision(version))  # fmt: skip
            waiting = Review.objects.filter(project=project, status=ReviewStatus.WAITING)
            review = waiting.order_by("item_id").last()
            review_decide(review=review, reviewer=team.reviewer,
                          value={"label": found.labels[2]}, rationale=joined("why"))  # fmt: skip
    version = project.versions.get(number=1)
    audit = audit_draw(project=project, user=lead, version=version, size=10, seed=7,
                       note=joined("anote", limit=500))  # fmt: skip
    first, second = audit.samples.order_by("position")[:2]
    audit_sample_judge(sample=first, reviewer=team.reviewer, verdict=Verdict.INCORRECT,
                       correct_value={"label": next(v for v in found.labels
                                               if {"label": v} != first.value)},
                       comment=joined("acom"),
                       revision=first.revision)  # fmt: skip
    audit_sample_judge(sample=second, reviewer=team.reviewer, verdict=Verdict.CORRECT,
                       comment=PAYLOADS[2].at("acom"), revision=second.revision)  # fmt: skip
    found.audit_id = audit.pk
    batch = project.synthetic_batches.get()
    batch_threshold_set(batch=batch, user=lead, max_error_rate=0.2)
    found.batch_id = batch.pk


def run_jobs_on_commit(capture) -> "callable[[], AbstractContextManager]":
    """`jobs()` for the builder from pytest-django's django_capture_on_commit_callbacks."""
    return lambda: capture(execute=True)
