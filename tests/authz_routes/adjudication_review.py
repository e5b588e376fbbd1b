"""Route entries for the authorization matrix (tests/test_authz_matrix.py): route name ->
[(method, payload, expected status per persona)], built with tests.authz_routes.S.

The review pages are for reviewers and leads; annotators get 403 on every one of them (blind
annotation), outsiders and the lead of another project 404. Sending back, guideline issues'
resolution, gold items and the settings are the lead's. `prepare` gives the project's first item
(the `item_id` of these routes) three annotations and a decision flagged "guidelines unclear", so
that every page has something to show and every action something to act on.
"""

from django.utils import timezone

from adjudication.models import FinalRule, Review, ReviewStatus
from annotation.models import Annotation, LabelSchema
from curation.models import Item
from tests.authz_routes import S

REVIEWER_PAGE = S(302, 404, 403, 200, 404, 200)
REVIEWER_WRITE = S(302, 404, 403, 302, 404, 302)
LEAD_PAGE = S(302, 404, 403, 403, 404, 200)
LEAD_WRITE = S(302, 404, 403, 403, 404, 302)
POST_ONLY = ("get", None, S(*[405] * 6))  # method checked first: reveals nothing
LABELS = {"labels": [{"value": "x", "text": "X"}, {"value": "y", "text": "Y"}]}
DECISION = {"value": '{"label": "y"}', "version": "2", "rationale": "Matrix", "seconds_spent": "3"}
SETTINGS = {
    "rule": "no_majority",
    "item_threshold": "0.5",
    "anonymize": "on",
    "agreement_threshold": "0.8",
    "tentative_threshold": "0.667",
    "rating_level": "ordinal",
    "gold_rate": "0.1",
}

ROUTES: dict = {
    "adjudication:review_queue": [("get", None, REVIEWER_PAGE), ("post", {}, S(*[405] * 6))],
    "adjudication:review_next": [POST_ONLY, ("post", {"order": "disagreement"}, REVIEWER_WRITE)],
    "adjudication:review_item": [("get", None, REVIEWER_PAGE), ("post", DECISION, REVIEWER_WRITE)],
    "adjudication:review_skip": [POST_ONLY, ("post", {}, REVIEWER_WRITE)],
    "adjudication:review_requeue": [POST_ONLY, ("post", {"note": "Look again"}, LEAD_WRITE)],
    "adjudication:review_settings": [("get", None, LEAD_PAGE), ("post", SETTINGS, LEAD_WRITE)],
    "adjudication:guideline_issues": [("get", None, REVIEWER_PAGE)],
    "adjudication:guideline_issue_resolve": [POST_ONLY, ("post", {}, LEAD_WRITE)],
    "adjudication:gold": [
        ("get", None, LEAD_PAGE),
        # An id no item has: the lead gets the form back with the field's error.
        ("post", {"external_id": "no-such-item", "value": '{"label": "x"}'}, LEAD_PAGE),
    ],
    "adjudication:gold_promote": [POST_ONLY, ("post", {}, LEAD_WRITE)],
    "adjudication:gold_remove": [POST_ONLY, ("post", {}, LEAD_WRITE)],
}


def prepare(team) -> None:
    """A schema, three annotations on the first item and its flagged decision (version 2)."""
    project = team.project
    LabelSchema.objects.get_or_create(
        project=project, defaults={"kind": "single_choice", "config": LABELS}
    )
    item = project.items.first()
    for annotator, label in zip(team.annotators, "xyx", strict=True):
        Annotation.objects.get_or_create(
            item=item, annotator=annotator, defaults={"value": {"label": label}}
        )
    Item.objects.filter(pk=item.pk).update(annotation_count=3)
    Review.objects.get_or_create(
        item=item,
        defaults={
            "project": project,
            "status": ReviewStatus.DECIDED,
            "value": {"label": "x"},
            "rule": FinalRule.ADJUDICATED,
            "agreement": 1 / 3,
            "decided_by": team.reviewer,
            "decided_at": timezone.now(),
            "guidelines_unclear": True,
            "guideline_comment": "Is sarcasm negative?",
            "version": 2,
        },
    )
