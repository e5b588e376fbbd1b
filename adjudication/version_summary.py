"""What a dataset version records from adjudication (registered in curation.extensions'
VERSION_SUMMARIES): the project's agreement as its latest snapshot holds it, and the share of
the version's items a reviewer decided. Reads only."""

from adjudication.models import AgreementSnapshot, Review, ReviewStatus

CHUNK = 5000


def version_summary(project, item_ids: list[int]) -> dict:
    """{"agreement": {"alpha", "ci", "n", "level", "kind", "computed_at", "stale", "reason"},
    "adjudication": {"decided", "rate"}}; alpha is None when no snapshot has one."""
    snapshot = AgreementSnapshot.objects.filter(project=project).first()
    data = snapshot.data if snapshot else {}
    alpha = data.get("alpha") or {}
    agreement = {
        "alpha": alpha.get("value"),
        "ci": alpha.get("ci"),
        "n": alpha.get("n", 0),
        "reason": alpha.get("reason") or ("" if snapshot else "agreement not computed yet"),
        "level": data.get("level"),
        "kind": data.get("kind"),
        "computed_at": snapshot.computed_at.isoformat() if snapshot and snapshot.computed_at
        else None,
        "stale": bool(snapshot and snapshot.stale_since),
    }  # fmt: skip
    decided = 0
    for start in range(0, len(item_ids), CHUNK):
        chunk = item_ids[start : start + CHUNK]
        decided += Review.objects.filter(item_id__in=chunk, status=ReviewStatus.DECIDED).count()
    rate = decided / len(item_ids) if item_ids else 0.0
    return {"agreement": agreement, "adjudication": {"decided": decided, "rate": rate}}
