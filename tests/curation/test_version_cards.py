"""Dataset cards: the YAML header the Hub reads, figures from the version, lead-written
sections edited with optimistic concurrency, safe rendering, and an export folder that
`datasets.load_dataset` reads."""

import json
import zipfile
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
import yaml
from django.core.exceptions import ValidationError

from curation.cards import NOT_WRITTEN, card_body, card_header, card_markdown, cell, size_category
from curation.models import AuditEvent, AuditKind
from curation.versions import (
    CardConflict,
    card_revision,
    version_card_update,
    version_export_folder,
    version_zip_file,
)
from tests.curation import test_versions as shared
from tests.curation.test_versions import freeze

labelled = shared.labelled  # a fixture


def header_of(markdown: str) -> dict:
    assert markdown.startswith("---\n")
    header, _, _ = markdown[4:].partition("\n---\n")
    return yaml.safe_load(header)


def plain_version(**summary):
    """A version as the card reads it, without the database."""
    base = {"project": {"name": "Intents"}, "splits": {"train": 2, "test": 1}, "labels": {}}
    return SimpleNamespace(number=3, note="", created_at=datetime(2026, 3, 1, tzinfo=UTC),
                           content_hash="ab" * 32, item_count=3,
                           summary={**base, **summary}, card_sections={})  # fmt: skip


@pytest.mark.parametrize(
    ("count", "category"),
    [(0, "n<1K"), (999, "n<1K"), (1000, "1K<n<10K"), (99_999, "10K<n<100K"),
     (100_000, "100K<n<1M"), (1_000_000, "1M<n<10M"), (10_000_000, "n>10M")],
)  # fmt: skip
def test_size_categories_are_the_hubs(count, category):
    assert size_category(count) == category


def test_header_parses_as_yaml_with_the_hubs_keys(labelled, team):
    version = freeze(team)
    header = header_of(card_markdown(version))
    assert header["pretty_name"] == "Support intents v1"
    assert header["license"] == "other"
    assert header["task_categories"] == ["text-classification"]
    assert header["size_categories"] == ["n<1K"]
    assert "language" not in header
    assert header["configs"] == [{"config_name": "default", "data_files": [
        {"split": "train", "path": "data/train.jsonl"},
        {"split": "test", "path": "data/test.jsonl"},
        {"split": "unassigned", "path": "data/unassigned.jsonl"},
    ]}]  # fmt: skip
    assert header["dataset_info"]["splits"] == [
        {"name": "train", "num_examples": 2},
        {"name": "test", "num_examples": 1},
        {"name": "unassigned", "num_examples": 1},
    ]


def test_the_hub_library_reads_the_card(labelled, team):
    from huggingface_hub import DatasetCard

    version = freeze(team)
    version_card_update(version=version, user=team.lead, revision="",
                        sections={"license": "cc-by-4.0", "language": ["en", "de"]})  # fmt: skip
    version.refresh_from_db()
    card = DatasetCard(card_markdown(version))
    assert card.data.license == "cc-by-4.0"
    assert card.data.language == ["en", "de"]
    assert card.data.pretty_name == "Support intents v1"
    assert "## Label distribution" in card.text


def test_strings_from_the_data_cannot_break_the_header():
    version = plain_version(project={"name": 'Evil"\nlicense: mit\n---\n# x'},
                            splits={"train": 1})  # fmt: skip
    header = yaml.safe_load(card_header(version))
    assert header["license"] == "other"
    assert header["pretty_name"] == 'Evil"\nlicense: mit\n---\n# x v3'


def test_body_has_the_figures_and_placeholders_for_unwritten_sections(labelled, team):
    body = card_body(freeze(team))
    assert "| billing | 1 | 25.0% | 1 | 0 | 0 |" in body  # label, items, share, per split
    assert "| (no label) | 1 | 25.0% | 0 | 0 | 1 |" in body
    assert "| adjudicated | a reviewer decided it | 1 |" in body
    assert "Adjudication rate: 25.0% (1 items decided by a reviewer)" in body
    assert "Krippendorff's alpha: not available" in body
    assert "- Annotators per item: 3 asked" in body
    assert "Near-duplicate pairs among these items: 0." in body
    for heading in ("Motivation", "Collection method", "Known limitations", "Intended uses",
                    "Out-of-scope uses"):  # fmt: skip
        assert f"## {heading}\n\n{NOT_WRITTEN}" in body


def test_agreement_is_shown_with_its_interval():
    agreement = {"alpha": 0.7123, "ci": [0.6, 0.8], "n": 120, "computed_at": "2026-02-01T10:00"}
    body = card_body(plain_version(agreement=agreement))
    assert "Krippendorff's alpha: 0.712 (95% bootstrap interval 0.600 to 0.800) over 120 items" in (
        body
    )


def test_table_cells_escape_pipes_and_line_breaks():
    assert cell("a|b\nc") == "a\\|b c"
    body = card_body(plain_version(labels={"x|y\nz": 3}, labels_by_split={}))
    assert "| x\\|y z | 3 | 100.0% | 0 | 0 |" in body


def test_editing_the_card_keeps_other_sections_and_audits(labelled, team):
    version = freeze(team)
    data_before = card_header(version).split("configs:")[1]
    version = version_card_update(version=version, user=team.lead, revision="",
                                  sections={"motivation": "Triage **faster**."})  # fmt: skip
    version = version_card_update(version=version, user=team.lead,
                                  revision=card_revision(version),
                                  sections={"limitations": "English only."})  # fmt: skip
    assert version.card_sections == {"motivation": "Triage **faster**.",
                                     "limitations": "English only."}  # fmt: skip
    body = card_body(version)
    assert "## Motivation\n\nTriage **faster**." in body
    assert "## Known limitations\n\nEnglish only." in body
    assert card_header(version).split("configs:")[1] == data_before
    events = AuditEvent.objects.filter(kind=AuditKind.VERSION_CARD_EDITED).order_by("pk")
    assert [e.detail for e in events] == [{"version": 1, "fields": ["motivation"]},
                                          {"version": 1, "fields": ["limitations"]}]  # fmt: skip


def test_a_stale_card_edit_is_a_conflict_and_changes_nothing(labelled, team):
    version = freeze(team)
    stale = card_revision(version)
    version_card_update(version=version, user=team.lead, revision=stale,
                        sections={"motivation": "First"})  # fmt: skip
    with pytest.raises(CardConflict):
        version_card_update(version=version, user=team.lead, revision=stale,
                            sections={"motivation": "Second"})  # fmt: skip
    version.refresh_from_db()
    assert version.card_sections == {"motivation": "First"}


@pytest.mark.parametrize(
    "sections",
    [{"license": "Not a license!"}, {"language": ["english language"]}, {"item_count": 3},
     {"motivation": "x" * 20_001}],
)  # fmt: skip
def test_card_edits_refuse_bad_values_and_other_fields(labelled, team, sections):
    version = freeze(team)
    with pytest.raises(ValidationError) as raised:
        version_card_update(version=version, user=team.lead, revision="", sections=sections)
    assert set(raised.value.message_dict) == set(sections)


@pytest.fixture
def offline_hf(monkeypatch, tmp_path):
    """`datasets` without the network and with its caches in tmp_path."""
    for name, value in {"HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1",
                        "HF_HOME": str(tmp_path / "hf"),
                        "HF_DATASETS_DISABLE_PROGRESS_BARS": "1"}.items():  # fmt: skip
        monkeypatch.setenv(name, value)
    return str(tmp_path / "hf-cache")


def test_datasets_loads_the_export_folder_with_its_splits(labelled, team, tmp_path, offline_hf):
    import datasets

    version = freeze(team)
    folder = tmp_path / "export"
    with version_zip_file(version) as handle:
        zipfile.ZipFile(handle).extractall(folder)
    loaded = datasets.load_dataset(str(folder), cache_dir=offline_hf)
    assert {name: split.num_rows for name, split in loaded.items()} == {
        "train": 2, "test": 1, "unassigned": 1
    }  # fmt: skip
    train = {row["id"]: row for row in loaded["train"]}
    assert train["u"]["label"] == "billing" and train["u"]["text"] == "Charged twice"
    assert train["m"]["final"]["rule"] == "majority"
    assert loaded["test"][0]["final"]["value"] == {"label": "other"}
    # The plain JSON loader reads the same files.
    files = {"train": str(folder / "data/train.jsonl"), "test": str(folder / "data/test.jsonl")}
    plain = datasets.load_dataset("json", data_files=files, cache_dir=offline_hf)
    assert (plain["train"].num_rows, plain["test"].num_rows) == (2, 1)


def test_the_export_folder_matches_the_zip(labelled, team, tmp_path):
    version = freeze(team)
    written = version_export_folder(version, tmp_path / "out")
    assert [p.relative_to(tmp_path / "out").as_posix() for p in written] == [
        "README.md", "data/test.jsonl", "data/train.jsonl", "data/unassigned.jsonl"
    ]  # fmt: skip
    with version_zip_file(version) as handle:
        archive = zipfile.ZipFile(handle)
        for path in written:
            name = path.relative_to(tmp_path / "out").as_posix()
            assert archive.read(name) == path.read_bytes()
    lines = (tmp_path / "out/data/train.jsonl").read_text().splitlines()
    assert [json.loads(line)["id"] for line in lines] == ["u", "m"]
