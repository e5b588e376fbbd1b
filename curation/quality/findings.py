"""Findings of the quality jobs: written all at once at the end of a run, and resolved by leads.

A job computes its findings in full, then `findings_replace` swaps them in for the kind in one
transaction: a finding found again keeps its row (and a lead's resolution), a new one is added,
and an open one the run no longer finds is removed. A rerun therefore never duplicates a finding,
and a job that fails before the swap leaves the previous findings as they were (JOB-4, JOB-7).
"""

from collections.abc import Iterable
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from curation.bulk import bulk_insert
from curation.models import AuditKind, Finding, FindingStatus, JobRun, Project
from curation.services import audit

RESOLUTIONS = (FindingStatus.FIXED, FindingStatus.DROPPED, FindingStatus.NOT_A_PROBLEM)


@dataclass
class Draft:
    """A finding as a job computes it, before it is stored."""

    key: str
    message: str
    item_id: int | None = None
    items: list[int] = field(default_factory=list)
    rule: str = ""
    score: float | None = None
    detail: dict = field(default_factory=dict)


COLUMNS = ["project", "kind", "key", "status", "item", "items", "rule", "message", "score",
           "detail", "job", "created_at", "updated_at", "resolution_note"]  # fmt: skip


def findings_replace(
    *,
    project: Project,
    kind: str,
    drafts: Iterable[Draft],
    job: JobRun | None = None,
    scope: Iterable[str] | None = None,
) -> dict:
    """Makes `drafts` the findings of `kind` in `project`. With `scope` (a list of rules), only
    findings of those rules are replaced. Returns {"new", "kept", "gone"}. One transaction."""
    drafts = {draft.key: draft for draft in drafts}
    now = timezone.now()
    with transaction.atomic():
        current = Finding.objects.select_for_update().filter(project=project, kind=kind)
        if scope is not None:
            current = current.filter(rule__in=list(scope))
        existing = {f.key: f for f in current.only("pk", "key", "status")}
        gone = [f.pk for key, f in existing.items()
                if key not in drafts and f.status == FindingStatus.OPEN]  # fmt: skip
        Finding.objects.filter(pk__in=gone).delete()
        kept = [existing[key] for key in drafts if key in existing]
        for finding in kept:
            draft = drafts[finding.key]
            finding.item_id, finding.items, finding.rule = draft.item_id, draft.items, draft.rule
            finding.message, finding.score = draft.message, draft.score
            finding.detail, finding.job = draft.detail, job
        Finding.objects.bulk_update(
            kept, ["item", "items", "rule", "message", "score", "detail", "job", "updated_at"],
            batch_size=1000,
        )  # fmt: skip
        new = [draft for key, draft in drafts.items() if key not in existing]
        bulk_insert(Finding, COLUMNS, (
            (project.pk, kind, d.key, FindingStatus.OPEN, d.item_id, d.items, d.rule, d.message,
             d.score, d.detail, job.pk if job else None, now, now, "") for d in new
        ))  # fmt: skip
    return {"new": len(new), "kept": len(kept), "gone": len(gone)}


def finding_resolve(*, finding: Finding, user, status: str, note: str = "") -> Finding:
    """Marks a finding fixed, dropped or not a problem, with who and when; `status` "open"
    reopens it."""
    if status not in (*RESOLUTIONS, FindingStatus.OPEN):
        raise ValidationError({"status": [f"Use one of: {', '.join(RESOLUTIONS)} or open."]})
    finding.status = status
    finding.resolution_note = note.strip()[:2000]
    reopened = status == FindingStatus.OPEN
    finding.resolved_by, finding.resolved_at = (None, None) if reopened else (user, timezone.now())
    finding.save(update_fields=["status", "resolution_note", "resolved_by", "resolved_at",
                                "updated_at"])  # fmt: skip
    audit(AuditKind.FINDING_RESOLVED, actor=user, project=finding.project, finding=finding.pk,
          finding_kind=finding.kind, status=status)  # fmt: skip
    return finding
