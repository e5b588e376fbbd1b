"""Final labels from review in curation's exports (mode "final"), registered after the
annotation app's enricher so that these win: a settled item keeps its rule ("unanimous",
"majority"), a decided one says "adjudicated", a gold item "gold", and an item that waits for a
reviewer has no final value yet ("awaiting_review")."""

from django.db.models import Q

from adjudication.models import Review, ReviewStatus
from curation.extensions import ExportEnricher
from curation.models import Item


def enrich(project, item_ids: list[int], mode: str) -> dict[int, dict]:
    """{item id: {"final": {"value", "rule"}}} for the items of `item_ids` that are gold or
    have a review, in one query (a range scan, like the annotation enricher's)."""
    if mode != "final" or not item_ids:
        return {}
    low, high = min(item_ids), max(item_ids)
    wanted = set(item_ids)
    rows = (
        Item.objects.filter(project=project, pk__gte=low, pk__lte=high)
        .filter(Q(gold__isnull=False) | Q(review__isnull=False))
        .values_list("pk", "gold", "review__status", "review__value", "review__rule")
    )
    found: dict[int, dict] = {}
    for item_id, gold, status, value, rule in rows:
        if item_id not in wanted:
            continue
        if gold is not None:
            final = {"value": gold, "rule": "gold"}
        elif status == ReviewStatus.WAITING:
            final = {"value": None, "rule": "awaiting_review"}
        else:
            final = {"value": value, "rule": rule}
        found[item_id] = {"final": final}
    return found


enricher = ExportEnricher(name="adjudication", enrich=enrich)


def items_decided(item_ids: list[int]) -> list[int]:
    """The ids among `item_ids` a reviewer has decided: their annotations no longer change."""
    decided = Review.objects.filter(item_id__in=item_ids, status=ReviewStatus.DECIDED)
    return list(decided.values_list("item_id", flat=True))
