"""Route entries for the authorization matrix (tests/test_authz_matrix.py).

Split design is a lead's: only leads see the page, preview and apply. Reviewers may read the
current splits through the API. Annotators get 403, outsiders and the lead of another project
404. The page's apply answers a redirect to the leakage job it started.
"""

from tests.authz_routes import S

LEAD_PAGE = S(302, 404, 403, 403, 404, 200)
PLAN_FORM = {"method": "stratified", "train": 80, "dev": 10, "test": 10, "seed": 7,
             "keep_clusters": "on"}  # fmt: skip
PLAN = {"method": "random", "ratios": {"train": 0.6, "dev": 0.2, "test": 0.2}, "seed": 7}

ROUTES: dict = {
    "curation:splits": [
        ("get", None, LEAD_PAGE),
        ("post", {**PLAN_FORM, "action": "preview"}, LEAD_PAGE),
        ("post", {**PLAN_FORM, "action": "apply"}, S(302, 404, 403, 403, 404, 302)),
    ],
    "api:splits": [
        ("get", None, S(401, 404, 403, 200, 404, 200)),
        ("post", PLAN, S(401, 404, 403, 403, 404, 202)),
    ],
    "api:split-preview": [("post", PLAN, S(401, 404, 403, 403, 404, 200))],
}
