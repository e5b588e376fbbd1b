"""Route entries for the authorization matrix (tests/test_authz_matrix.py).

Reviewers and leads read the distribution page, its API and the reference samples; leads alone
upload and delete reference samples. Annotators get 403, outsiders and the lead of another
project 404. The delete routes' `reference_id` is a reference the matrix makes in the project.
"""

from curation.models import DistributionReference
from tests.authz_routes import S

REVIEWER_PAGE = S(302, 404, 403, 200, 404, 200)
LEAD_WRITE = S(302, 404, 403, 403, 404, 302)
POST_ONLY = ("get", None, S(*[405] * 6))  # method checked first: reveals nothing
REVIEWERS = S(401, 404, 403, 200, 404, 200)
# A reference sample to upload, as (name, content): sent as multipart by the matrix.
SAMPLE = {"file": ("traffic.csv", b"label\npositive\nnegative\n"), "field": "label"}


def reference_for(team) -> int:
    """A reference sample of the project, made fresh for each request."""
    return DistributionReference.objects.create(
        project=team.project, name="Matrix", filename="m.csv", field="label",
        counts={"positive": 1}, total=1,
    ).pk  # fmt: skip


# Values for URL parameters these routes add: name -> function(team) -> value.
URL_VALUES: dict = {"reference_id": reference_for}

ROUTES: dict = {
    "curation:distribution": [("get", None, REVIEWER_PAGE)],
    "curation:distribution_reference_upload": [POST_ONLY, ("post", SAMPLE, LEAD_WRITE)],
    "curation:distribution_reference_delete": [POST_ONLY, ("post", {}, LEAD_WRITE)],
    "api:distribution": [("get", None, REVIEWERS)],
    # Without `reference` the members who may read get the 400 naming the parameter.
    "api:distribution-compare": [("get", None, S(401, 404, 403, 400, 404, 400))],
    "api:distribution-reference-list": [
        ("get", None, REVIEWERS),
        ("post", SAMPLE, S(401, 404, 403, 403, 404, 201)),
    ],
    "api:distribution-reference-detail": [("delete", None, S(401, 404, 403, 403, 404, 204))],
}
