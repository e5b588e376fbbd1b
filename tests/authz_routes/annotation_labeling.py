"""Route entries for the authorization matrix (tests/test_authz_matrix.py): route name ->
[(method, payload, expected status per persona)], built with tests.authz_routes.S.

The labeling pages are for every member (leads and reviewers may label too). An item page
(`item_id` is the project's first item, which nobody has labeled or leased in the matrix) shows
only items the user labeled or holds: 404 for everyone else. A submit or a skip of an item of
the project is the service's to accept (it keeps the item within its overlap)."""

from tests.authz_routes import S

MEMBER_PAGE = S(302, 404, 200, 200, 404, 200)
MEMBER_WRITE = S(302, 404, 302, 302, 404, 302)

ROUTES: dict = {
    "annotation:label": [("get", None, MEMBER_PAGE), ("post", {}, S(*[405] * 6))],
    "annotation:label_item": [
        ("get", None, S(302, 404, 404, 404, 404, 404)),
        (
            "post",
            {"value": '{"label": "x"}', "seconds_spent": "4.5", "submission_key": "matrix-1"},
            MEMBER_WRITE,
        ),
    ],
    "annotation:label_skip": [
        ("get", None, S(*[405] * 6)),  # method checked first: reveals nothing
        ("post", {"reason": "unclear"}, MEMBER_WRITE),
    ],
    "annotation:my_work": [("get", None, MEMBER_PAGE)],
}
