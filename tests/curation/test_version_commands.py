"""`manage.py freeze_version` and `manage.py export_items --version N`: the same version and the
same bytes as the page and the API, and clear errors with a non-zero exit."""

import io
import zipfile

import pytest
from django.core.management import CommandError, call_command

from curation.models import AuditEvent, AuditKind, DatasetVersion
from curation.versions import version_zip_file
from tests.curation import test_versions as shared

labelled = shared.labelled  # a fixture


def run(*args) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_freeze_version_prints_the_number_and_hash(team, labelled):
    output = run("freeze_version", team.project.slug, "--note", "Nightly", "--user", "lena_lead")
    version = DatasetVersion.objects.get()
    assert f"Version 1 of {team.project.slug}: 4 items." in output
    assert f"content hash {version.content_hash}" in output
    assert (version.note, version.created_by) == ("Nightly", team.lead)
    assert AuditEvent.objects.filter(kind=AuditKind.VERSION_FROZEN, actor=team.lead).exists()
    assert "Version 2 of" in run("freeze_version", team.project.slug)


@pytest.mark.parametrize(
    ("args", "message"),
    [(["no-such-project"], "No project with the slug 'no-such-project'"),
     (["support-intents", "--user", "nobody"], "No user named 'nobody'")],
)  # fmt: skip
def test_freeze_version_fails_clearly(team, args, message):
    with pytest.raises(CommandError, match=message):
        run("freeze_version", *args)
    assert not DatasetVersion.objects.exists()


def test_export_items_writes_the_versions_folder_and_zip(team, labelled, tmp_path):
    run("freeze_version", team.project.slug)
    version = DatasetVersion.objects.get()
    output = run("export_items", team.project.slug, "--version", "1", "-o", str(tmp_path / "v1"))
    assert "Exported version 1" in output
    assert sorted(p.relative_to(tmp_path / "v1").as_posix()
                  for p in (tmp_path / "v1").rglob("*") if p.is_file()) == [
        "README.md", "data/test.jsonl", "data/train.jsonl", "data/unassigned.jsonl"
    ]  # fmt: skip
    run("export_items", team.project.slug, "--version", "1", "-o", str(tmp_path / "v1.zip"))
    with version_zip_file(version) as handle:
        assert (tmp_path / "v1.zip").read_bytes() == handle.read()
    archive = zipfile.ZipFile(tmp_path / "v1.zip")
    assert archive.read("data/train.jsonl") == (tmp_path / "v1/data/train.jsonl").read_bytes()


def test_export_items_refuses_a_missing_version_or_a_used_folder(team, labelled, tmp_path):
    with pytest.raises(CommandError, match="has no version 3"):
        run("export_items", team.project.slug, "--version", "3", "-o", str(tmp_path / "x"))
    run("freeze_version", team.project.slug)
    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "keep.txt").write_text("mine")
    with pytest.raises(CommandError, match="not an empty folder"):
        run("export_items", team.project.slug, "--version", "1", "-o", str(tmp_path / "used"))


def test_export_items_without_a_version_still_needs_a_format(team, tmp_path):
    with pytest.raises(CommandError, match="Give --format"):
        run("export_items", team.project.slug, "-o", str(tmp_path / "x.jsonl"))
    run("export_items", team.project.slug, "--format", "jsonl", "-o", str(tmp_path / "x.jsonl"))
    assert len((tmp_path / "x.jsonl").read_text().splitlines()) == 5
