"""Route entries for the authorization matrix (tests/test_authz_matrix.py)."""

from tests.authz_routes import S  # noqa: F401

# Values for URL parameters these routes add: name -> function(team) -> value.
URL_VALUES: dict = {}

ROUTES: dict = {}
