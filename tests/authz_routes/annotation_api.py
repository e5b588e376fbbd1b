"""Route entries for the authorization matrix (tests/test_authz_matrix.py): route name ->
[(method, payload, expected status per persona)], built with tests.authz_routes.S.

Any member may label, the lead too; outsiders and the lead of another project get 404."""

from tests.authz_routes import S

LABEL = {"value": {"label": "billing"}, "seconds_spent": 4.5, "submission_key": "matrix-1"}

ROUTES: dict = {
    "api:assignment-next": [("post", {}, S(401, 404, 200, 200, 404, 200))],
    "api:annotation-list": [
        ("get", None, S(401, 404, 200, 200, 404, 200)),
        ("post", LABEL, S(401, 404, 201, 201, 404, 201)),
    ],
    "api:item-skip": [("post", {"reason": "unsure"}, S(401, 404, 200, 200, 404, 200))],
}
