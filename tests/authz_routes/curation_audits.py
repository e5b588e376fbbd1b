"""Route entries for the authorization matrix (tests/test_authz_matrix.py): sample audits and
synthetic batches.

Reviewers and leads read audits, reports and batches, download an audit's samples and judge
them; leads alone draw audits, set a batch's threshold and collect loose synthetic items.
Annotators get 403, outsiders and the lead of another project 404. `prepare` freezes a version
of the project's five items by hand, draws an audit of it (the `audit_id`, whose first sample
is the `sample_id`) and makes a synthetic batch of one item (the `batch_id`).
"""

import json

from curation.audits import audit_draw
from curation.models import BatchItem, DatasetVersion, SyntheticBatch, VersionRecord
from tests.authz_routes import S

REVIEWER_PAGE = S(302, 404, 403, 200, 404, 200)
REVIEWER_WRITE = S(302, 404, 403, 302, 404, 302)
LEAD_WRITE = S(302, 404, 403, 403, 404, 302)
POST_ONLY = ("get", None, S(*[405] * 6))  # method checked first: reveals nothing
REVIEWERS = S(401, 404, 403, 200, 404, 200)
LEAD = S(401, 404, 403, 403, 404, 200)

URL_VALUES = {
    "audit_id": lambda team: team.project.sample_audits.order_by("pk").first().pk,
    "sample_id": lambda team: (
        team.project.sample_audits.order_by("pk").first().samples.get(position=1).pk
    ),
    "batch_id": lambda team: team.project.synthetic_batches.order_by("pk").first().pk,
}


def prepare(team) -> None:
    """Version 1 of the five items (labels pos/neg), an audit of all five, a batch of one."""
    project = team.project
    version = DatasetVersion.objects.create(project=project, number=1, content_hash="0" * 64,
                                            item_count=5)  # fmt: skip
    for position, item in enumerate(project.items.order_by("pk"), start=1):
        label = "pos" if position % 2 else "neg"
        VersionRecord.objects.create(
            version=version, position=position, item_id=item.pk, external_id=item.external_id,
            split="train", label=label, label_key=json.dumps({"label": label}), record="{}",
        )  # fmt: skip
    audit_draw(project=project, user=team.lead, version=version, size=5, seed=0)
    batch = SyntheticBatch.objects.create(project=project, name="gen.jsonl", item_count=1)
    BatchItem.objects.create(batch=batch, item=project.items.order_by("pk").last())


JUDGE_FORM = {"position": 1, "revision": 0, "verdict": "correct"}
DRAW_FORM = {"source": "version:1", "size": 3, "seed": 7}

ROUTES: dict = {
    "curation:audits": [("get", None, REVIEWER_PAGE)],
    "curation:audit_create": [POST_ONLY, ("post", DRAW_FORM, LEAD_WRITE)],
    "curation:audit": [("get", None, REVIEWER_PAGE)],
    "curation:audit_csv": [("get", None, REVIEWER_PAGE)],
    "curation:audit_judge": [("get", None, REVIEWER_PAGE), ("post", JUDGE_FORM, REVIEWER_WRITE)],
    "curation:batches": [("get", None, REVIEWER_PAGE)],
    "curation:batch_collect": [POST_ONLY, ("post", {}, LEAD_WRITE)],
    "curation:batch_threshold": [POST_ONLY, ("post", {"max_error_rate": "10"}, LEAD_WRITE)],
    "api:audit-list": [
        ("get", None, REVIEWERS),
        ("post", {"version": 1, "size": 3, "seed": 7}, S(401, 404, 403, 403, 404, 201)),
    ],
    "api:audit-detail": [("get", None, REVIEWERS)],
    "api:audit-sample-list": [("get", None, REVIEWERS)],
    "api:audit-sample-detail": [
        ("get", None, REVIEWERS),
        ("patch", {"verdict": "correct", "revision": 0}, REVIEWERS),
    ],
    "api:batch-list": [("get", None, REVIEWERS)],
    "api:batch-detail": [("get", None, REVIEWERS), ("patch", {"max_error_rate": 0.1}, LEAD)],
}
