"""FILE-1, IMP-4, IMP-7, IMP-9: hostile uploads to every endpoint that takes a file (the import
page and API, reference sets, distribution reference samples on the page and the API) are each
answered with a message naming the problem in plain words, and nothing is stored: no item, no
reference row, no file under a name the user chose.

A file refused at once gets 400/413; a file that needs reading is queued (the import and the
reference set are jobs) and the job's report says what is wrong. Where the answer is the job's,
the test reads the job page a lead sees.
"""

import gzip
import html
import io
import re
from dataclasses import dataclass

import pytest
from django.urls import reverse

from curation.models import DistributionReference, Item, JobRun, ReferenceSet
from tests.curation.test_import_pages import multipart

pytestmark = pytest.mark.django_db

GOOD = b'{"id": "u-1", "text": "Card charged twice"}\n{"id": "u-2", "text": "Refund please"}\n'
SERVER_NAME = re.compile(r"^[0-9a-f]{32}(\.[a-z]+)*$")
LINE_LIMIT = 65_536  # bytes: IMPORT_MAX_LINE_BYTES in these tests
SIZE_LIMIT = 4096  # bytes: IMPORT_MAX_UPLOAD_BYTES in the size test


@dataclass(frozen=True)
class Endpoint:
    name: str
    route: str
    api: bool
    family: str  # "import" (read by a job) or "sample" (read in the request)
    fields: tuple = ()

    def url(self, project) -> str:
        return reverse(self.route, kwargs={"slug": project.slug})


ENDPOINTS = [
    Endpoint("import page", "curation:import_items", False, "import"),
    Endpoint("import API", "api:import-create", True, "import"),
    Endpoint("reference set page", "curation:reference_sets", False, "import",
             (("text_field", "text"),)),
    Endpoint("distribution sample page", "curation:distribution_reference_upload", False,
             "sample", (("field", "label"), ("column", "text"))),
    Endpoint("distribution sample API", "api:distribution-reference-list", True, "sample",
             (("field", "label"), ("column", "text"))),
]  # fmt: skip


def parquet_bytes() -> bytes:
    """A real Parquet file of two texts."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    out = io.BytesIO()
    pq.write_table(pa.table({"text": ["Card charged twice", "Refund please"]}), out)
    return out.getvalue()


def deep_json(depth: int) -> bytes:
    return b'{"text": "deep", "m": ' + b"[" * depth + b"]" * depth + b"}\n"


# (case, file name, content, words the answer must hold: import family, sample family)
CONTENT = [
    ("csv named .jsonl", "items.jsonl", b"text,id\nhello,1\n",
     ["does not look like JSON Lines", "name it .csv"], ["not valid JSON", "line 1"]),
    ("parquet named .csv", "items.csv", parquet_bytes(),
     ["Parquet file", ".parquet"], ["not UTF-8", "line 1"]),
    ("gzip without .gz", "items.jsonl", gzip.compress(GOOD),
     ["gzip-compressed", "does not end in .gz"], ["not UTF-8", "line 1"]),
    ("utf-16 with bom", "items.jsonl", GOOD.decode().encode("utf-16"),
     ["UTF-16", "save it as UTF-8"], ["not UTF-8", "line 1"]),
    ("invalid utf-8", "items.jsonl", b'{"text": "ok"}\n{"text": "caf\xe9 cr\xe8me"}\n',
     ["line 2", "bad UTF-8 at byte"], ["not UTF-8", "line 2"]),
    ("nul byte in text", "items.jsonl", b'{"text": "ok"}\n{"text": "a\x00b"}\n',
     ["line 2", "NUL"], ["line 2", "not valid JSON"]),
    ("json nested 10,000 deep", "items.jsonl", b'{"text": "ok"}\n' + deep_json(10_000),
     ["line 2", "not valid JSON"], ["line 2", "not valid JSON"]),
    ("a line over the limit", "items.jsonl",
     b'{"text": "ok"}\n{"text": "' + b"x" * LINE_LIMIT + b'"}\n',
     ["line 2", "longer than the limit of 65,536 bytes"], None),
]  # fmt: skip
NAMES = [
    ("../../etc/passwd", ["cannot tell the format", "passwd"], ["passwd", "send a .csv file"]),
    ("/etc/passwd", ["cannot tell the format", "passwd"], ["passwd", "send a .csv file"]),
    ("..\\..\\x.exe", ["cannot tell the format", "x.exe"], ["x.exe", "send a .csv file"]),
]
# Names a file may carry that are refused nowhere: only their last part is shown, never used.
ACCEPTED_NAMES = [
    ("../../x.jsonl", "x.jsonl"),
    ("..\\..\\x.jsonl", "x.jsonl"),
    ("/etc/passwd.jsonl", "passwd.jsonl"),
    ("a\x00b.jsonl", "ab.jsonl"),
    ("n" * 294 + ".jsonl", "n" * 100),
    ("<img src=x onerror=alert('xssfile09')>.jsonl", "<img src=x onerror=alert('xssfile09')>"),
]


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.IMPORT_MAX_LINE_BYTES = LINE_LIMIT
    return settings.MEDIA_ROOT


def files_under(media) -> list[str]:
    return sorted(p.name for p in media.rglob("*") if p.is_file()) if media.exists() else []


def stored_rows(project) -> dict:
    return {
        "items": Item.objects.filter(project=project).count(),
        "reference sets": ReferenceSet.objects.filter(project=project).count(),
        "samples": DistributionReference.objects.filter(project=project).count(),
    }


def send(client, endpoint: Endpoint, project, filename: str, content: bytes, capture):
    """Posts the file with `filename` exactly as given, runs the job it queued, and returns
    (status, the text a lead reads: the answer, or the page of the job it started)."""
    body, content_type = multipart(filename, content, **dict(endpoint.fields))
    before = set(JobRun.objects.filter(project=project).values_list("pk", flat=True))
    with capture(execute=True):
        response = client.post(endpoint.url(project), body, content_type=content_type)
    text = response.content.decode(errors="replace")
    run = JobRun.objects.filter(project=project).exclude(pk__in=before).first()
    if run is not None:
        page = reverse("curation:job_status", kwargs={"slug": project.slug, "job_id": run.pk})
        text = client.get(page).content.decode()
    return response.status_code, html.unescape(text), run


@pytest.fixture
def lead_client(client, team, media, in_process_jobs):
    client.force_login(team.lead)
    return client


# Each endpoint with each content case it can be sent (a sample's line limit is fixed at 1 MB:
# test_a_sample_line_over_1_mb covers it).
CONTENT_CASES = [
    pytest.param(endpoint, filename, content,
                 import_words if endpoint.family == "import" else sample_words,
                 id=f"{case}-{endpoint.name}")
    for endpoint in ENDPOINTS
    for case, filename, content, import_words, sample_words in CONTENT
    if (import_words if endpoint.family == "import" else sample_words) is not None
]  # fmt: skip


@pytest.mark.parametrize(("endpoint", "filename", "content", "words"), CONTENT_CASES)
def test_hostile_content_is_named_and_nothing_is_stored(
    lead_client, team, media, endpoint, filename, content, words,
    django_capture_on_commit_callbacks,
):  # fmt: skip
    before = stored_rows(team.project)
    status, text, run = send(lead_client, endpoint, team.project, filename, content,
                             django_capture_on_commit_callbacks)  # fmt: skip
    assert status in (302, 202, 400), (status, text[:500])
    for word in words:
        assert word in text, (word, text[:3000])
    assert "Traceback" not in text and "Error(" not in text
    if run is not None:
        run.refresh_from_db()
        assert run.status == "failed", (run.status, run.message)
    assert stored_rows(team.project) == before
    assert all(SERVER_NAME.match(name) for name in files_under(media)), files_under(media)
    if endpoint.route != "curation:reference_sets" and endpoint.family == "import":
        return  # an import keeps its upload (under a server-made name) after it fails
    assert files_under(media) == []


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda e: e.name)
@pytest.mark.parametrize(("filename", "import_words", "sample_words"), NAMES,
                         ids=["traversal", "absolute", "backslashes"])  # fmt: skip
def test_a_name_without_a_known_format_is_refused_without_its_path(
    lead_client, team, media, endpoint, filename, import_words, sample_words,
    django_capture_on_commit_callbacks,
):  # fmt: skip
    words = import_words if endpoint.family == "import" else sample_words
    before = stored_rows(team.project)
    status, text, run = send(lead_client, endpoint, team.project, filename, GOOD,
                             django_capture_on_commit_callbacks)  # fmt: skip
    # The import page answers a form with errors with 200, like its other forms.
    assert status == (200 if endpoint.route == "curation:import_items" else 400), status
    assert run is None
    for word in words:
        assert word in text, (word, text[:3000])
    assert "/etc/" not in text and "..\\" not in text and "../" not in text
    assert files_under(media) == [] and stored_rows(team.project) == before


@pytest.mark.parametrize("endpoint", [e for e in ENDPOINTS if e.family == "import"],
                         ids=lambda e: e.name)  # fmt: skip
@pytest.mark.parametrize(
    ("filename", "shown"),
    ACCEPTED_NAMES,
    ids=["traversal", "backslashes", "absolute", "nul", "300 chars", "xss"],
)
def test_a_stored_upload_has_a_server_made_name_and_shows_only_the_last_part(
    lead_client, team, media, endpoint, filename, shown, django_capture_on_commit_callbacks
):
    """FILE-1: the file lands under a uuid in its own folder; the user's name is display only,
    shown escaped and without its folders."""
    fields = dict(endpoint.fields)
    if len(filename) > 255:
        fields["format"] = "jsonl"  # the name's suffix is cut when shown
    body, content_type = multipart(filename, GOOD, **fields)
    before = set(JobRun.objects.values_list("pk", flat=True))
    response = lead_client.post(endpoint.url(team.project), body, content_type=content_type)
    assert response.status_code in (302, 202), response.content[:500]
    run = JobRun.objects.exclude(pk__in=before).get()
    stored = run.params["stored_name"]
    assert SERVER_NAME.match(stored) and files_under(media) == [stored]
    assert run.params["filename"].startswith(shown)
    page = reverse("curation:job_status", kwargs={"slug": team.project.slug, "job_id": run.pk})
    content = lead_client.get(page).content.decode()
    assert html.escape(shown, quote=False) in content.replace("&#x27;", "'")
    assert "<img src=x" not in content and "/etc/" not in content


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda e: e.name)
def test_a_file_over_the_size_limit_is_refused_unread(
    lead_client, team, media, settings, endpoint, django_capture_on_commit_callbacks
):
    settings.IMPORT_MAX_UPLOAD_BYTES = SIZE_LIMIT
    before = stored_rows(team.project)
    name = "big.jsonl"
    status, text, run = send(lead_client, endpoint, team.project, name, GOOD * 200,
                             django_capture_on_commit_callbacks)  # fmt: skip
    assert status == 413 and run is None, (status, text[:500])
    assert re.search(r"limit of 4(,096 bytes| KB|\.0 KB)", text), text[:2000]
    assert files_under(media) == [] and stored_rows(team.project) == before


@pytest.mark.parametrize("endpoint", [e for e in ENDPOINTS if e.family == "sample"],
                         ids=lambda e: e.name)  # fmt: skip
def test_a_sample_line_over_1_mb_is_named(
    lead_client, team, media, endpoint, django_capture_on_commit_callbacks
):
    content = b'{"text": "ok"}\n{"text": "' + b"x" * (1024 * 1024 + 1) + b'"}\n'
    status, text, _ = send(lead_client, endpoint, team.project, "s.jsonl", content,
                           django_capture_on_commit_callbacks)  # fmt: skip
    assert status == 400 and "line 2" in text and "longer than 1 MB" in text, text[:500]
    assert not DistributionReference.objects.exists() and files_under(media) == []
