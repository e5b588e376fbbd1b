"""Route entries for the authorization matrix (tests/test_authz_matrix.py): route name ->
[(method, payload, expected status per persona)], built with tests.authz_routes.S.

Reviewers and leads review; leads alone send items back, set gold answers, resolve guideline
issues and change the policy. Annotators get 403, outsiders and the lead of another project 404.
"""

from adjudication.models import Review
from annotation.services import annotation_submit
from tests.authz_routes import S

REVIEWERS = S(401, 404, 403, 200, 404, 200)
LEAD = S(401, 404, 403, 403, 404, 200)
# prepare() leaves a waiting review at version 1.
DECISION = {"value": {"label": "billing"}, "rationale": "Matches the guidelines.", "version": 1}


def prepare(team) -> None:
    """A waiting review on the project's first item: its three annotators disagree. It is also
    flagged "guidelines unclear", as a flagged decision that a lead sent back stays."""
    item = team.project.items.first()
    for annotator, label in zip(team.annotators, ["billing", "billing", "technical"], strict=True):
        annotation_submit(item=item, annotator=annotator, value={"label": label})
    Review.objects.filter(item=item).update(
        guidelines_unclear=True, guideline_comment="Is a refund request billing?"
    )


ROUTES: dict = {
    "api:agreement": [("get", None, REVIEWERS)],
    "api:review-list": [("get", None, REVIEWERS)],
    "api:review-next": [("post", {}, REVIEWERS)],
    "api:review-detail": [("get", None, REVIEWERS)],
    "api:review-claim": [("post", {}, REVIEWERS)],
    "api:review-release": [("post", {}, REVIEWERS)],
    "api:review-decision": [("post", DECISION, REVIEWERS)],
    "api:review-requeue": [("post", {"note": "Second look, please."}, LEAD)],
    "api:guideline-issue-list": [("get", None, REVIEWERS)],
    "api:guideline-issue-resolve": [("post", {}, LEAD)],
    "api:item-gold": [
        ("put", {"value": {"label": "billing"}}, LEAD),
        ("delete", None, S(401, 404, 403, 403, 404, 204)),
    ],
    "api:review-policy": [
        ("get", None, REVIEWERS),
        ("patch", {"rule": "no_majority", "gold_rate": 0.1}, LEAD),
    ],
}
