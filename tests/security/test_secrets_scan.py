"""PROC-1 (gitleaks' part) and AUTH-2: no secret is committed. Every file git tracks, or would
track (new files not ignored), is scanned for private keys, cloud and service tokens, URLs
carrying a password, and high-entropy literals assigned to a secret-sounding name outside the
tests. The scanner is proven on planted secrets, built here from pieces so that this file does
not trip it."""

import math
import re
import subprocess
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BINARY_SUFFIXES = {".png", ".ico", ".parquet", ".gz", ".woff2", ".zip", ".map"}

# Rules with a fixed shape, after gitleaks' default set; each matches a whole token.
TOKEN_RULES = {
    "private-key": re.compile(r"-----BEGIN[ A-Z0-9]*PRIVATE KEY( BLOCK)?-----"),
    "aws-access-key-id": re.compile(r"\b(AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16}\b"),
    "aws-secret-access-key": re.compile(
        r"(?i)aws_?secret_?access_?key\W{0,5}[\"']?[A-Za-z0-9/+=]{40}(?![A-Za-z0-9/+=])"
    ),
    "github-token": re.compile(r"\b(gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{22,})"),
    "gitlab-token": re.compile(r"\bglpat-[A-Za-z0-9_-]{20,}"),
    "slack-token": re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}"),
    "google-api-key": re.compile(r"\bAIza[0-9A-Za-z_-]{35}\b"),
    "stripe-key": re.compile(r"\b[rs]k_live_[0-9A-Za-z]{20,}"),
    "openai-key": re.compile(r"\bsk-(proj-)?[A-Za-z0-9_-]{20,}T3BlbkFJ[A-Za-z0-9_-]{20,}"),
    "jwt": re.compile(r"\beyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}"),
    # scheme://user:secret@host; a ${VARIABLE} or a placeholder (below) is no secret.
    "password-in-url": re.compile(
        r"\b[a-z][a-z0-9+.-]*://[^\s/:@\"'${}<>]+:(?P<password>[^\s/@\"'${}<>]+)@"
    ),
}
PLACEHOLDERS = re.compile(r"(?i)pass(word|wd)?|secret|change-?me|pw|x+|\*+|\.+")
# A rule runs only on a text holding one of its needles: a plain substring test is far faster
# than the pattern over five megabytes of vendored JavaScript.
NEEDLES = {
    "private-key": ("PRIVATE KEY",),
    "aws-access-key-id": ("AKIA", "ASIA", "ABIA", "ACCA"),
    "github-token": ("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"),
    "gitlab-token": ("glpat-",),
    "slack-token": ("xox",),
    "google-api-key": ("AIza",),
    "stripe-key": ("k_live_",),
    "openai-key": ("T3BlbkFJ",),
    "jwt": ("eyJ",),
    "password-in-url": ("://",),
}
# NAME = "value" where NAME sounds secret; the value counts when it looks random (below).
ASSIGNMENT = re.compile(
    r"(?i)(secret|passw(or)?d|token|api_?key|private_?key|access_?key)[\w.-]*"
    r"[\"']?[ \t]*(=|:|:=|=>)[ \t]*[\"'](?P<value>[^\"'\s]{16,})[\"']"
)
# Code that must hold fixed passwords and keys to test with them: the generic rule skips it.
GENERIC_SKIPS = ("tests/", "benchmarks/")


def entropy(text: str) -> float:
    """Shannon entropy in bits per character."""
    counts = Counter(text)
    return -sum(n / len(text) * math.log2(n / len(text)) for n in counts.values())


def looks_random(value: str) -> bool:
    """A value a person did not make up: long, mixed letters and digits, high entropy. Words
    joined by dashes ("replace-with-a-long-random-string") and placeholders are not."""
    return (
        len(value) >= 16
        and re.search(r"[A-Za-z]", value) is not None
        and re.search(r"\d", value) is not None
        and entropy(value) >= 3.5
    )


def find_secrets(text: str, path: str = "") -> list[tuple[int, str]]:
    """(line number, rule) for each secret in `text`, the contents of file `path`."""
    found = []
    for rule, pattern in TOKEN_RULES.items():
        if rule in NEEDLES and not any(needle in text for needle in NEEDLES[rule]):
            continue
        for match in pattern.finditer(text):
            password = match.groupdict().get("password")
            if not (password and PLACEHOLDERS.fullmatch(password)):
                found.append((text.count("\n", 0, match.start()) + 1, rule))
    if not path.startswith(GENERIC_SKIPS):
        for match in ASSIGNMENT.finditer(text):
            if looks_random(match.group("value")):
                found.append((text.count("\n", 0, match.start()) + 1, "generic-secret-assignment"))
    return sorted(found)


def repository_files() -> list[str]:
    """What git tracks, plus new files it would track (neither ignored nor committed yet)."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=ROOT, capture_output=True, check=True,
    ).stdout.decode()  # fmt: skip
    return sorted({name for name in listed.split("\0") if name})


def test_the_repository_holds_no_secret():
    files = repository_files()
    assert len(files) > 100 and "config/settings.py" in files
    hits = []
    for name in files:
        path = ROOT / name
        if not path.is_file() or path.suffix in BINARY_SUFFIXES:
            continue
        text = path.read_text(encoding="utf-8", errors="ignore")
        hits += [f"{name}:{number}: {rule}" for number, rule in find_secrets(text, name)]
    assert hits == []


# --- the scanner catches planted secrets ----------------------------------------------------

# Each planted secret is joined from parts at run time: written whole, it would be found here.
B64 = "wJalrXUtnFEMI/" + "K7MDENG/bPxRfiCY" + "EXAMPLEKEY"  # AWS's documented example secret


def _planted() -> list[tuple[str, str]]:
    return [
        ("private-key", "-----BEGIN RSA " + "PRIVATE KEY-----\nMIIEow..."),
        ("private-key", "key = '''-----BEGIN OPENSSH " + "PRIVATE KEY-----"),
        ("aws-access-key-id", "AWS_ACCESS_KEY_ID=AKIA" + "IOSFODNN7EXAMPLE"),
        ("aws-secret-access-key", "aws_secret_access_key = " + B64),
        ("github-token", "token: ghp_" + "a1B2c3D4e5F6g7H8i9J0" * 2),
        ("gitlab-token", "GITLAB=glpat-" + "x1y2z3" * 4),
        ("slack-token", "SLACK_HOOK = 'xoxb-" + "123456789012-abcdefABCDEF'"),
        ("google-api-key", "maps_key = 'AIza" + "SyD" + "a" * 16 + "1234567890abcdef'"),
        ("stripe-key", "STRIPE = 'sk_live_" + "4eC39HqLyjWDarjtT1zdp7dc'"),
        ("openai-key", "OPENAI_API_KEY=sk-proj-" + "a" * 24 + "T3Blbk" + "FJ" + "b" * 24),
        (
            "jwt",
            "Authorization: Bearer eyJ"
            + "hbGciOiJIUzI1NiJ9.eyJ"
            + "zdWIiOiIxMjM0In0."
            + "dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
        ),  # fmt: skip
        ("password-in-url", "DATABASE_URL=postgres://concord:" + "s3cr3t-pw@db:5432/concord"),
        ("generic-secret-assignment", 'SECRET_KEY = "' + "k3J9x!q2Lw8#vR5t" + 'Zp0mN7yB4cF6hD1s"'),
        ("generic-secret-assignment", "API_TOKEN: '" + "9f8e7d6c5b4a" + "39281706f5e4d3c2'"),
        (
            "generic-secret-assignment",
            'settings.EMAIL_HOST_PASSWORD = "' + "Tr0ub4dor&3xyzQ9" + '"',
        ),
    ]


@pytest.mark.parametrize(("rule", "line"), _planted(), ids=lambda v: v if len(v) < 30 else "")
def test_the_scanner_finds_a_planted_secret(rule, line):
    text = f"# a harmless first line\n{line}\n"
    assert (2, rule) in find_secrets(text, "config/settings.py")


def test_the_scanner_finds_a_secret_in_a_real_file_of_the_tree(tmp_path):
    """The scan as the repository test runs it, on a copy of the settings with a key planted."""
    settings = (ROOT / "config" / "settings.py").read_text(encoding="utf-8")
    assert find_secrets(settings, "config/settings.py") == []
    planted = settings + '\nSECRET_KEY = "' + "x7Kq2mP9vL4" + 'wN8rT3yZ6bC1dF5gH0jS"\n'
    assert find_secrets(planted, "config/settings.py") == [
        (len(planted.splitlines()), "generic-secret-assignment")
    ]


@pytest.mark.parametrize(
    "line",
    [
        "SECRET_KEY = " + 'envsecret("SECRET_KEY")',  # split: AUTH-2's own scan reads this file
        "SECRET_KEY=replace-with-a-long-random-string",
        'SECRET_KEY = "change-me"',
        "POSTGRES_PASSWORD: ${POSTGRES_PASSWORD:?set POSTGRES_PASSWORD in .env}",
        "DATABASE_URL=postgres://concord:${POSTGRES_PASSWORD}@db:5432/concord",
        "DATABASE_URL=postgres://postgres@127.0.0.1:5432/concord",
        'password = "correct horse battery staple"',
        "# DATABASE_URL=postgres://concord:password@db.example.internal:5432/concord",
        "DATABASE_URL: ${DATABASE_URL:-postgres://${PG_USER:-c}:${PG_PASSWORD:-c}@db:5432/c}",
        "content_hash = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'",
    ],
)
def test_the_scanner_leaves_configuration_and_ordinary_values_alone(line):
    assert find_secrets(line, "config/settings.py") == []


def test_fixed_test_passwords_are_allowed_in_tests_only():
    line = 'PASSWORD = "pw-' + "a1b2c3d4e5f6g7h8" + '"'
    assert find_secrets(line, "tests/curation/test_accounts.py") == []
    assert find_secrets(line, "curation/accounts.py") == [(1, "generic-secret-assignment")]
