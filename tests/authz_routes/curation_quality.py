"""Route entries for the authorization matrix (tests/test_authz_matrix.py): route name ->
[(method, payload, expected status per persona)], built with tests.authz_routes.S.

Reviewers and leads read the quality page, the findings and the quality settings; leads alone
start quality jobs, change the settings, resolve findings, drop or move items and cancel job
runs. Annotators get 403, outsiders and the lead of another project 404. `prepare` leaves a
leakage finding (the `finding_id` of these routes) on the project's first item, so that every
action has something to act on.
"""

from curation.models import FindingKind, Split
from tests.authz_routes import S

REVIEWER_PAGE = S(302, 404, 403, 200, 404, 200)
LEAD_WRITE = S(302, 404, 403, 403, 404, 302)
POST_ONLY = ("get", None, S(*[405] * 6))  # method checked first: reveals nothing
REVIEWERS = S(401, 404, 403, 200, 404, 200)
LEAD = S(401, 404, 403, 403, 404, 200)
# No quality job has this kind: the lead passes every permission check and gets the 400 of an
# unknown kind, so the matrix does not depend on which quality jobs are installed.
UNKNOWN_JOB = {"kind": "no_such_job"}
# The settings form as a lead sends it: every threshold, the rules and the jobs after import.
SETTINGS_FORM = {
    "min_chars": 3, "max_chars": 5000, "min_letter_share": 0.5, "letter_share_min_chars": 20,
    "max_char_run": 20, "max_line_repeats": 3, "repeated_line_min_chars": 20,
    "max_repeated_line_share": 0.5, "rules": ["empty", "too_long"], "after_import": ["item_checks"],
}  # fmt: skip
SETTINGS_PATCH = {"checks": {"max_chars": 5000}, "after_import": ["item_checks"]}
# A reference set to upload, as (name, content): sent as multipart by the matrix.
BENCHMARK = {"file": ("benchmark.jsonl", b'{"id": "q-1", "text": "What is 2 + 2?"}\n')}


def prepare(team) -> None:
    """A leakage finding: the first item (test) shares its text with the second (train)."""
    first, second = team.project.items.order_by("pk")[:2]
    first.split, second.split = Split.TEST, Split.TRAIN
    first.save(update_fields=["split"])
    second.save(update_fields=["split"])
    team.project.findings.create(
        kind=FindingKind.LEAKAGE, key="matrix", item=first, items=[second.pk],
        message="This test item has the same text as 1 train item.", score=1.0,
    )  # fmt: skip


ROUTES: dict = {
    "curation:quality": [("get", None, REVIEWER_PAGE)],
    "curation:quality_run": [POST_ONLY, ("post", UNKNOWN_JOB, S(302, 404, 403, 403, 404, 400))],
    "curation:quality_settings": [POST_ONLY, ("post", SETTINGS_FORM, LEAD_WRITE)],
    "curation:finding": [("get", None, REVIEWER_PAGE)],
    "curation:finding_resolve": [POST_ONLY, ("post", {"status": "not_a_problem"}, LEAD_WRITE)],
    "curation:finding_action": [POST_ONLY, ("post", {"action": "move"}, LEAD_WRITE)],
    "curation:job_cancel": [POST_ONLY, ("post", {}, LEAD_WRITE)],
    "api:job-create": [("post", UNKNOWN_JOB, S(401, 404, 403, 403, 404, 400))],
    "api:quality-settings": [("get", None, REVIEWERS), ("patch", SETTINGS_PATCH, LEAD)],
    "api:finding-list": [("get", None, REVIEWERS)],
    "api:finding-detail": [("get", None, REVIEWERS)],
    "api:finding-resolve": [("post", {"status": "fixed", "note": "Checked."}, LEAD)],
    "api:finding-action": [("post", {"action": "drop"}, LEAD)],
    "api:job-cancel": [("post", {}, LEAD)],
    # Reference sets (a public benchmark to check against training data): reviewers read the
    # page, leads upload and delete. The delete route's `set_id` is a set the matrix makes.
    "curation:reference_sets": [("get", None, REVIEWER_PAGE), ("post", BENCHMARK, LEAD_WRITE)],
    "curation:reference_set_delete": [POST_ONLY, ("post", {}, LEAD_WRITE)],
    # Their API: the same roles; an upload is 202 with the job that reads it, a delete 204.
    "api:reference-set-list": [
        ("get", None, REVIEWERS),
        ("post", BENCHMARK, S(401, 404, 403, 403, 404, 202)),
    ],
    "api:reference-set-detail": [
        ("get", None, REVIEWERS),
        ("delete", None, S(401, 404, 403, 403, 404, 204)),
    ],
}
