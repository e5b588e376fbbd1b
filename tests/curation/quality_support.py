"""What the quality tests share: a throwaway quality job, registered for one test only, and a
builder of findings."""

from contextlib import contextmanager

from curation import jobs
from curation.hashing import item_text
from curation.models import Finding, FindingKind, ReferenceSet, ReferenceText
from curation.quality.findings import Draft, findings_replace
from curation.quality.leakage import exact_hash
from curation.quality.registry import QUALITY_JOBS, QualityJob, register_quality_job

PROBE = "quality_probe"
PROBE_DEFAULTS = {
    "word": "refund",
    "min_length": 3,
    "threshold": 0.5,
    "strict": False,
    "splits": ["train", "test"],
}


def _probe(run, report) -> dict:
    """Flags each item whose text contains the word: one item-check finding per item."""
    word = run.params["word"]
    items = list(run.project.items.filter(dropped_at__isnull=True))
    report(0.5, {"items": len(items)})
    drafts = [
        Draft(
            key=f"probe:{item.pk}",
            message=f"Mentions {word!r}.",
            item_id=item.pk,
            rule="probe",
            score=run.params["threshold"],
        )
        for item in items
        if word in item_text(item.data)
    ]
    counts = findings_replace(
        project=run.project, kind=FindingKind.ITEM_CHECK, drafts=drafts, job=run
    )
    return {"items": len(items), "flagged": len(drafts), **counts}


@contextmanager
def probe_job(schema_kinds=None):
    """Registers the probe as a quality job (and a job kind) while the block runs."""
    jobs.job_kind(PROBE)(_probe)
    register_quality_job(
        QualityJob(
            kind=PROBE,
            label="Probe check",
            description="Flags items with a word.",
            finding_kind=FindingKind.ITEM_CHECK,
            defaults=dict(PROBE_DEFAULTS),
            schema_kinds=schema_kinds,
        )
    )
    try:
        yield QUALITY_JOBS[PROBE]
    finally:
        QUALITY_JOBS.pop(PROBE, None)
        jobs.JOB_KINDS.pop(PROBE, None)


def make_finding(project, kind=FindingKind.ITEM_CHECK, *, item=None, items=(), **fields):
    """A finding of `project`; its key is unique per call."""
    make_finding.n += 1
    fields.setdefault("message", f"Finding {make_finding.n}")
    return Finding.objects.create(
        project=project,
        kind=kind,
        key=f"test:{make_finding.n}",
        item=item,
        items=list(items),
        **fields,
    )


make_finding.n = 0


def signed_item_ids(project) -> list[int]:
    """Every item id in the project's signature blocks, repeats kept (an item signed twice
    appears twice)."""
    import numpy as np

    from curation.models import SignatureBlock

    blobs = SignatureBlock.objects.filter(project=project).values_list("items", flat=True)
    return [i for blob in blobs for i in np.frombuffer(bytes(blob), dtype="<i8").tolist()]


def make_set(project, texts: dict[str, str], name="Bench") -> ReferenceSet:
    """A reference set of `texts` (external id -> text), stored as its upload job would."""
    found = ReferenceSet.objects.create(project=project, name=name, filename="bench.jsonl",
                                        text_field="text", count=len(texts))  # fmt: skip
    ReferenceText.objects.bulk_create(
        ReferenceText(reference_set=found, external_id=key, text=text, exact=exact_hash(text))
        for key, text in texts.items()
    )
    return found
