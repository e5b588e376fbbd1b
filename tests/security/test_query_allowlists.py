"""QRY-1: filter, ordering, search and `fields` parameters pass through allowlists. Every GET
route of the authorization matrix is asked, as the project's lead, with the parameters that
extracted password hashes from Label Studio (CVE-2023-47117): the API answers 400 naming the
parameters, and no page fails, reads them as a lookup or shows a password hash."""

from urllib.parse import urlencode

import pytest

from tests.test_authz_matrix import MATRIX, PREPARE, url_for

HOSTILE = {
    "ordering": "-user__password",
    "o": "annotator__password",
    "sort": "created_by__password",
    "order": "annotator__password",
    "fields": "annotator__password",
    "annotator__password__startswith": "md5",
    "user__password__regex": "^.*$",
}
LEAD_GETS = sorted(
    name
    for name, rows in MATRIX.items()
    for method, _, expected in rows
    if method == "get" and expected["lead"] == 200
)
API = [name for name in LEAD_GETS if name.startswith("api:") and name not in {"api:schema",
       "api:docs"}]  # fmt: skip
PAGES = [name for name in LEAD_GETS if not name.startswith("api:")]
# Pages that read one of these names themselves and refuse what is not in their allowlist, and
# the version diff, whose form is bound by any query and then misses `from` and `to`.
PAGES_THAT_REFUSE = {"adjudication:agreement", "adjudication:review_queue",
                     "adjudication:review_item", "curation:versions_diff"}  # fmt: skip


def hostile_get(client, team, name, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    client.force_login(team.lead)
    if PREPARE.get(name) is not None:
        PREPARE[name](team)
    response = client.get(f"{url_for(name, team)}?{urlencode(HOSTILE)}")
    response.close()
    return response


@pytest.mark.parametrize("name", API)
def test_the_api_refuses_lookups_it_does_not_list(client, team, settings, tmp_path, name):
    response = hostile_get(client, team, name, settings, tmp_path)
    assert response.status_code == 400, response.content[:300]
    named = response.json()
    assert {"ordering", "o", "annotator__password__startswith"} & set(str(named).split("'"))
    assert "md5$" not in response.content.decode()


@pytest.mark.parametrize("name", PAGES)
def test_pages_ignore_or_refuse_lookups_they_do_not_list(client, team, settings, tmp_path, name):
    response = hostile_get(client, team, name, settings, tmp_path)
    expected = 400 if name in PAGES_THAT_REFUSE else 200
    assert response.status_code == expected
    body = b"".join(response.streaming_content) if response.streaming else response.content
    assert b"md5$" not in body and b"pbkdf2" not in body
