"""Route entries for the authorization matrix (tests/test_authz_matrix.py): dataset versions.

Reviewers and leads read versions, their cards, downloads and diffs; leads alone freeze and edit
cards. Annotators get 403, outsiders and the lead of another project 404. `prepare` leaves
version 1 of the project (the `number` of these routes), with one record.
"""

from curation.models import DatasetVersion
from tests.authz_routes import S

REVIEWER_PAGE = S(302, 404, 403, 200, 404, 200)
LEAD_WRITE = S(302, 404, 403, 403, 404, 302)
POST_ONLY = ("get", None, S(*[405] * 6))  # method checked first: reveals nothing
REVIEWERS = S(401, 404, 403, 200, 404, 200)
LEAD = S(401, 404, 403, 403, 404, 200)
CARD = {"revision": "", "motivation": "Why we built it."}

URL_VALUES = {"number": lambda team: 1}


def prepare(team) -> None:
    """Version 1 of the project, with one record in train."""
    version, created = DatasetVersion.objects.get_or_create(
        project=team.project, number=1,
        defaults={"content_hash": "0" * 64, "item_count": 1, "created_by": team.lead,
                  "summary": {"splits": {"train": 1}, "project": {"name": "P"}}},
    )  # fmt: skip
    if created:
        item = team.project.items.order_by("pk").first()
        version.records.create(position=0, item_id=item.pk, external_id=item.external_id,
                               split="train", record='{"id":"x"}')  # fmt: skip


ROUTES: dict = {
    "curation:versions": [("get", None, REVIEWER_PAGE), ("post", {"note": "v"}, LEAD_WRITE)],
    "curation:versions_diff": [("get", None, REVIEWER_PAGE)],
    "curation:version_detail": [("get", None, REVIEWER_PAGE)],
    "curation:version_card": [POST_ONLY, ("post", CARD, LEAD_WRITE)],
    "curation:version_download": [("get", None, REVIEWER_PAGE)],
    "api:version-list": [
        ("get", None, REVIEWERS),
        ("post", {"note": "v"}, S(401, 404, 403, 403, 404, 202)),
    ],
    "api:version-detail": [("get", None, REVIEWERS)],
    "api:version-card": [("get", None, REVIEWERS), ("patch", CARD, LEAD)],
    "api:version-download": [("get", None, REVIEWERS)],
    # Without ?from=&to= the members who may read get 400 naming the missing parameters.
    "api:version-diff": [("get", None, S(401, 404, 403, 400, 404, 400))],
}
