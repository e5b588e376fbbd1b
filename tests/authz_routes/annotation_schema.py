"""Route entries for the authorization matrix (tests/test_authz_matrix.py): route name ->
[(method, payload, expected status per persona)], built with tests.authz_routes.S.

The schema page is a lead's settings page: annotators and reviewers get 403 (they meet the
labels on the labeling page), outsiders and other projects' leads 404.
"""

import json

from annotation.schemas import default_config
from tests.authz_routes import S

SCHEMA = {"kind": "rating", "config": json.dumps(default_config("rating"))}
LEAD_PAGE = S(302, 404, 403, 403, 404, 200)

ROUTES: dict = {
    "annotation:schema_edit": [
        ("get", None, LEAD_PAGE),
        ("post", SCHEMA, S(302, 404, 403, 403, 404, 302)),
    ],
    "annotation:schema_preview": [
        ("get", None, S(*[405] * 6)),  # the method is checked first: it reveals nothing
        ("post", SCHEMA, LEAD_PAGE),
    ],
}
