"""Rules checked over the source tree, for requirements that are about what the code never does:
fetch URLs (SSRF-*), deserialise unsafely (FILE-5), build SQL from strings (QRY-2), keep a
secret in the repository (AUTH-2), schedule a message past the broker's visibility timeout
(JOB-2); and the security documents themselves (PROC-2, the status table)."""

import ast
import re
import subprocess
from pathlib import Path

from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]
APPS = ["config", "curation", "annotation", "adjudication"]
REQUIREMENTS = ROOT / "docs" / "security-requirements.md"
# How many requirements each section of the shared requirements file has.
IDS = {"AUTHZ": 9, "XSS": 7, "SSRF": 5, "FILE": 5, "IMP": 10, "EXP": 4, "QRY": 3, "AUTH": 10,
       "JOB": 9, "ASG": 9, "LOG": 2, "PROC": 2}  # fmt: skip


def app_sources():
    for app in APPS:
        for path in sorted((ROOT / app).rglob("*.py")):
            if "migrations" not in path.parts:
                yield path, path.read_text(encoding="utf-8")


def imported_modules(source: str) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


# --- SSRF ---------------------------------------------------------------------------------------

OUTBOUND = re.compile(
    r"^(requests|httpx|aiohttp|urllib3|pycurl|http\.client|urllib\.request|socket|ftplib|"
    r"smtplib|boto3|botocore|fsspec)(\.|$)"
)


def test_the_apps_make_no_outbound_requests():
    """SSRF-1…5 do not apply yet because nothing in Concord fetches a URL: no HTTP client,
    socket or cloud SDK is imported by the apps. The day one is, this test fails and the fetch
    must go through one client with the SSRF-1 checks."""
    hits = [
        f"{path.relative_to(ROOT)}: {module}"
        for path, source in app_sources()
        for module in imported_modules(source)
        if OUTBOUND.match(module)
    ]
    assert hits == []


# --- FILE-5 -------------------------------------------------------------------------------------


def test_nothing_deserialises_code_or_objects():
    """FILE-5, beyond pickle/joblib/torch.load (tests/test_codebase_rules.py): no
    pandas.read_pickle, numpy allow_pickle, unsafe YAML, marshal, shelve, eval or exec."""
    pattern = re.compile(
        r"read_pickle|allow_pickle\s*=\s*True|yaml\.(unsafe_)?load\(|\bmarshal\.|\bshelve\b|"
        r"(?<![\w.])(eval|exec)\("
    )
    hits = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path, source in app_sources()
        for number, line in enumerate(source.splitlines(), 1)
        if pattern.search(line)
    ]
    assert hits == []


def test_celery_accepts_json_only():
    """FILE-5 / JOB-2: no pickle on the broker, in either direction."""
    assert settings.CELERY_ACCEPT_CONTENT == ["json"]
    assert settings.CELERY_TASK_SERIALIZER == settings.CELERY_RESULT_SERIALIZER == "json"


# --- QRY-2 --------------------------------------------------------------------------------------

# Every place the apps hand SQL text to the database themselves, reviewed: the SQL is a constant
# or is built only from identifiers of our own (quote_name of a model's table, fixed column
# names, "%s" placeholders), and every value travels as a parameter. A new site fails the test
# until it is reviewed and added here.
REVIEWED_SQL = {
    ("curation/bulk.py", "bulk_insert"): "COPY into a model's quoted table and columns",
    ("curation/access.py", "project_for_member"): "module constant of column names, parameters",
    ("curation/authentication.py", "TokenAuthentication.authenticate_credentials"): (
        "module constant of column and table names, parameters"
    ),
    ("annotation/access.py", "item_for_member"): "module constant of column names, parameters",
    ("annotation/fastpath.py", "expired_leases_exist"): "a constant, parameters",
    ("annotation/fastpath.py", "lease_next"): "constants of column names and ranks, parameters",
    ("annotation/fastpath.py", "lease_next_as"): "constants of names, ranks and roles, parameters",
    ("annotation/fastpath.py", "annotation_store"): "constants of names, ranks, roles; parameters",
    ("annotation/fastpath.py", "annotation_store_quick"): (
        "constants of names, ranks, roles, and the receivers' constant SQL (events); parameters"
    ),
    ("annotation/short_path.py", "_member"): "constants of column and table names, parameters",
    ("annotation/selectors.py", "labeling_progress"): "a constant, parameters",
    ("adjudication/services.py", "agreement_mark_stale"): "a constant, parameters",
    ("adjudication/services.py", "_settle_new"): "constants, parameters",
    ("curation/health.py", "_database_ok"): "SELECT 1",
    ("curation/importing/pipeline.py", "_present"): "column is 'external_id' or 'content_hash'",
    ("curation/importing/pipeline.py", "_hold_project"): "Project's quoted table, parameters",
    ("curation/importing/writers.py", "CopyWriter._open"): "COPY into Item's quoted table",
    ("curation/importing/writers.py", "CopyWriter.write"): "constant ids query, parameters",
    ("curation/exporting/records.py", "fetch_rows"): "SQL and parameters compiled by Django",
    ("curation/quality/jobs.py", "leakage_hashes_sync"): "ANALYZE, a constant",
    ("curation/quality/near_duplicates.py", "_insert_block"): "COPY into SignatureBlock's table",
    ("curation/quality/text_hashes.py", "_insert_block"): "COPY into TextHashBlock's table",
    ("curation/quality/reference_leakage.py", "_in_sql"): "constants, '%s' placeholders added",
    ("curation/splits.py", "_write"): "a constant, parameters",
    ("curation/versions/freeze.py", "_data_keys"): "a constant plus Django-compiled SQL",
}
SQL_CALLS = {"execute", "executemany", "copy", "raw", "extra", "RawSQL"}


def sql_sites(path: Path, source: str):
    """(function, call) for each call of a SQL-taking method in `source`, and whether its SQL
    argument is formatted right there (an f-string, % or .format())."""
    tree = ast.parse(source)
    for scope in ast.walk(tree):
        if not isinstance(scope, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        for node in ast.walk(scope):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "attr", None) or getattr(node.func, "id", None)
            if name not in SQL_CALLS or not node.args:
                continue
            sql = node.args[0]
            inline = (
                isinstance(sql, ast.JoinedStr)
                or (isinstance(sql, ast.BinOp) and isinstance(sql.op, ast.Mod))
                or (isinstance(sql, ast.Call) and getattr(sql.func, "attr", "") == "format")
            )
            yield scope, inline


def qualified(tree_source: str, scope) -> str:
    for node in ast.walk(ast.parse(tree_source)):
        if isinstance(node, ast.ClassDef) and any(
            getattr(child, "name", None) == scope.name and child.lineno == scope.lineno
            for child in node.body
        ):
            return f"{node.name}.{scope.name}"
    return scope.name


def test_every_raw_sql_site_is_reviewed_and_takes_parameters():
    """QRY-2: raw SQL only where reviewed, never formatted with values inside the call."""
    found, inline = set(), []
    for path, source in app_sources():
        relative = str(path.relative_to(ROOT))
        for scope, formatted in sql_sites(path, source):
            site = (relative, qualified(source, scope))
            found.add(site)
            if formatted:
                inline.append(site)
    assert found - set(REVIEWED_SQL) == set()
    assert set(REVIEWED_SQL) - found == set()  # a reviewed site that went away: drop its entry
    assert inline == []


# --- AUTH-2 -------------------------------------------------------------------------------------


def test_no_secret_key_is_committed():
    """AUTH-2: the only SECRET_KEY value in the repository is the .env.example placeholder,
    which the settings refuse; no django-insecure key anywhere."""
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True,
                             check=True).stdout.split()  # fmt: skip
    assignment = re.compile(r"SECRET_KEY\s*[=:]\s*[\"']?([A-Za-z0-9_\-+/=]{8,})")
    values, insecure = set(), []
    for name in tracked:
        path = ROOT / name
        if not path.is_file() or path.suffix in {".png", ".ico", ".parquet", ".gz", ".woff2"}:
            continue
        text = path.read_text(encoding="utf-8", errors="ignore")
        values.update(m.group(1) for m in assignment.finditer(text))
        if re.search(r"django-insecure-[A-Za-z0-9]", text):
            insecure.append(name)
    from config.settings import _KNOWN_KEYS

    assert values - {"_secret_key", "envstr"} <= _KNOWN_KEYS
    assert insecure == []


# --- JOB-2 --------------------------------------------------------------------------------------


def test_no_message_waits_longer_than_the_visibility_timeout():
    """JOB-2: no ETA or countdown anywhere; automatic retries back off at most
    retry_backoff_max seconds, below the visibility timeout, which is above the hard time limit
    and a chunk's claim."""
    from curation.tasks import job_run_execute, quality_sign_chunks

    pattern = re.compile(r"\b(countdown|eta)\s*=")
    hits = [str(path.relative_to(ROOT)) for path, source in app_sources() if pattern.search(source)]
    assert hits == []
    timeout = settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"]
    for task in (job_run_execute, quality_sign_chunks):
        assert task.acks_late and task.retry_backoff
        assert getattr(task, "retry_backoff_max", 600) < timeout  # Celery's default: 600
    longest = max(settings.CELERY_TASK_TIME_LIMIT, settings.QUALITY_CHUNK_SECONDS,
                  settings.JOB_LEASE_SECONDS)  # fmt: skip
    assert longest < timeout
    assert settings.CELERY_TASK_REJECT_ON_WORKER_LOST is True
    assert settings.CELERY_WORKER_PREFETCH_MULTIPLIER == 1


# --- the documents ------------------------------------------------------------------------------


def test_security_md_gives_a_private_channel_and_points_to_the_status_table():
    """PROC-2."""
    text = (ROOT / "SECURITY.md").read_text(encoding="utf-8")
    assert "security/advisories/new" in text and "not report security problems in a public" in text
    assert "docs/security-requirements.md" in text


def test_the_status_table_lists_every_requirement_once():
    text = REQUIREMENTS.read_text(encoding="utf-8")
    rows = re.findall(r"^\| ([A-Z]+-\d+) \|", text, re.M)
    expected = [f"{prefix}-{n}" for prefix, count in IDS.items() for n in range(1, count + 1)]
    assert sorted(rows) == sorted(expected)


def test_every_test_the_status_table_names_exists():
    """A renamed or deleted test leaves no dangling reference in the table."""
    text = REQUIREMENTS.read_text(encoding="utf-8")
    references = set(re.findall(r"(tests/[\w/]+\.py)(?:::([\w:]+))?", text))
    assert len(references) > 50
    missing = []
    for file, name in references:
        path = ROOT / file
        if not path.is_file():
            missing.append(file)
            continue
        if name:
            source = path.read_text(encoding="utf-8")
            *classes, function = name.split("::")
            if not all(re.search(rf"^\s*class {c}\b", source, re.M) for c in classes) or not (
                re.search(rf"^\s*def {function}\b", source, re.M)
            ):
                missing.append(f"{file}::{name}")
    assert missing == []
