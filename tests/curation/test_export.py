"""Exports: records and final labels, the three formats, formula-safe CSV, a round trip through
the import, loading with `datasets` and pandas, the export job, retention and query counts."""

import csv
import io
import json
import os
from datetime import timedelta

import orjson
import pyarrow.parquet as pq
import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.utils import timezone

from annotation.exporting import final_label, percent_agreement
from annotation.models import Annotation
from curation.exporting import (
    FORMATS,
    MODES,
    export_file,
    export_records,
    export_start,
    export_stream,
    exports_sweep,
    write_csv,
    write_jsonl,
    write_parquet,
)
from curation.exporting.files import export_dir, export_job
from curation.importing.pipeline import ImportOptions, import_file
from curation.jobs import JobCancelled
from curation.models import Item, JobRun, JobStatus
from curation.tasks import job_run_execute
from tests.factories import ItemFactory, ProjectFactory

BILLING, REFUND, OTHER = {"label": "billing"}, {"label": "refund"}, {"label": "other"}


def annotate(item, annotators, values, seconds=None):
    for annotator, value in zip(annotators, values, strict=False):
        Annotation.objects.create(item=item, annotator=annotator, value=value,
                                  seconds_spent=seconds)  # fmt: skip


@pytest.fixture
def labelled(team):
    """The team's project without the fixture's items: four items, labelled in four ways."""
    Item.objects.filter(project=team.project).delete()
    a = team.annotators
    items = {
        "all-agree": ItemFactory(project=team.project, external_id="all-agree",
                                 data={"text": "Card charged twice"}, metadata={"lang": "en"},
                                 split="train", source="production",
                                 prediction={"label": "billing", "scores": {"billing": 0.9}}),
        "two-of-three": ItemFactory(project=team.project, external_id="two-of-three",
                                    data={"text": "Money back?", "channel": "email"}),
        "all-differ": ItemFactory(project=team.project, external_id="all-differ",
                                  data={"text": "Hmm"}, split="test"),
        "nobody": ItemFactory(project=team.project, external_id="nobody", data={"text": "Hi"}),
    }  # fmt: skip
    annotate(items["all-agree"], a, [BILLING] * 3, seconds=4.5)
    annotate(items["two-of-three"], a, [REFUND, BILLING, REFUND])
    annotate(items["all-differ"], a, [BILLING, REFUND, OTHER])
    return items


def records_of(project, mode="final") -> dict:
    return {r["id"]: r for chunk in export_records(project, mode) for r in chunk}


def export_bytes(project, fmt, mode="final") -> bytes:
    return b"".join(export_stream(project, fmt, mode))


# --- records and final labels -----------------------------------------------------------------


def test_a_final_record_carries_the_item_its_annotations_and_how_the_label_was_chosen(labelled):
    record = records_of(labelled["all-agree"].project)["all-agree"]
    assert record == {
        "id": "all-agree",
        "data": {"text": "Card charged twice"},
        "metadata": {"lang": "en"},
        "split": "train",
        "source": "production",
        "prediction": {"label": "billing", "scores": {"billing": 0.9}},
        "annotations": [{"annotator": f"anna_{i}", "value": BILLING} for i in (1, 2, 3)],
        "final": {"value": BILLING, "rule": "unanimous"},
        "agreement": 1.0,
        "n_annotations": 3,
    }


@pytest.mark.parametrize(
    "item, final, agreement, n",
    [
        ("all-agree", {"value": BILLING, "rule": "unanimous"}, 1.0, 3),
        ("two-of-three", {"value": REFUND, "rule": "majority"}, pytest.approx(1 / 3), 3),
        ("all-differ", {"value": None, "rule": "no_majority"}, 0.0, 3),
        ("nobody", {"value": None, "rule": "unlabeled"}, None, 0),
    ],
)
def test_final_label_rules_and_agreement_per_item(labelled, item, final, agreement, n):
    record = records_of(labelled[item].project)[item]
    assert (record["final"], record["agreement"], record["n_annotations"]) == (final, agreement, n)


def test_an_item_short_of_its_annotators_has_no_final_label_yet(team):
    """Two of the three annotators the project asks for agree: that is not yet unanimous, and
    a one-annotator item is not a label. Each says it is incomplete and keeps its agreement."""
    assert team.project.annotators_per_item == 3
    two = ItemFactory(project=team.project, external_id="two-so-far")
    one = ItemFactory(project=team.project, external_id="one-so-far")
    annotate(two, team.annotators[:2], [BILLING, BILLING])
    annotate(one, team.annotators[:1], [REFUND])
    records = records_of(team.project)
    assert [(records[k]["final"], records[k]["agreement"], records[k]["n_annotations"])
            for k in ("two-so-far", "one-so-far")] == [
        ({"value": None, "rule": "incomplete"}, 1.0, 2),
        ({"value": None, "rule": "incomplete"}, None, 1),
    ]  # fmt: skip
    annotate(two, team.annotators[2:], [BILLING])
    assert records_of(team.project)["two-so-far"]["final"] == {"value": BILLING,
                                                               "rule": "unanimous"}  # fmt: skip


def test_rules_on_plain_values():
    """Values are compared as JSON with sorted keys; a tie is no majority."""
    same = [{"label": "a", "span": [1, 2]}, {"span": [1, 2], "label": "a"}]
    assert final_label(same) == {"value": same[0], "rule": "unanimous"}
    assert final_label([{"label": "a"}, {"label": "b"}])["rule"] == "no_majority"
    assert final_label([{"label": "a"}] * 2 + [{"label": "b"}] * 2)["rule"] == "no_majority"
    assert final_label([{"label": "a"}] * 3 + [{"label": "b"}] * 2)["rule"] == "majority"
    assert final_label([{"label": "a"}]) == {"value": {"label": "a"}, "rule": "unanimous"}
    assert final_label([]) == {"value": None, "rule": "unlabeled"}
    assert percent_agreement(["a"]) is None
    assert percent_agreement(["a", "a", "b", "b"]) == pytest.approx(2 / 6)


def test_mode_annotations_gives_one_record_per_annotator(labelled, team):
    records = [r for chunk in export_records(team.project, "annotations") for r in chunk]
    agree = [r for r in records if r["id"] == "all-agree"]
    assert [(r["annotator"], r["value"], r["seconds_spent"]) for r in agree] == [
        (f"anna_{i}", BILLING, 4.5) for i in (1, 2, 3)
    ]
    assert set(agree[0]) == {"id", "data", "metadata", "split", "source", "annotator", "value",
                             "seconds_spent"}  # fmt: skip
    # an item nobody labelled is still exported, once, with no annotator
    nobody = [r for r in records if r["id"] == "nobody"]
    assert [(r["annotator"], r["value"]) for r in nobody] == [(None, None)]
    assert len(records) == 3 + 3 + 3 + 1


def test_an_export_holds_exactly_the_projects_items(labelled, team):
    """EXP-2: compared with the database, nothing of the other project and nothing missing."""
    ItemFactory(project=team.other_project, external_id="all-agree", data={"text": "Not ours"})
    for mode in MODES:
        exported = {r["id"] for chunk in export_records(team.project, mode) for r in chunk}
        expected = set(team.project.items.values_list("external_id", flat=True))
        assert exported == expected
    assert b"Not ours" not in export_bytes(team.project, "jsonl")


def test_interleaved_projects_keep_their_annotations_apart(team, django_assert_num_queries):
    """Items of two projects created in turn: each export has only its own items' labels."""
    Item.objects.all().delete()
    for n in range(3):
        ours = ItemFactory(project=team.project, external_id=f"ours-{n}")
        theirs = ItemFactory(project=team.other_project, external_id=f"theirs-{n}")
        annotate(ours, team.annotators[:1], [BILLING])
        annotate(theirs, [team.other_lead], [REFUND])
    with django_assert_num_queries(3):
        records = records_of(team.project)
    assert sorted(records) == ["ours-0", "ours-1", "ours-2"]
    assert {a["annotator"] for r in records.values() for a in r["annotations"]} == {"anna_1"}
    annotations = [r for chunk in export_records(team.project, "annotations") for r in chunk]
    assert [(r["id"], r["annotator"]) for r in annotations] == [
        (f"ours-{n}", "anna_1") for n in range(3)
    ]


def test_paths_in_item_data_are_exported_as_text_and_never_read(team, tmp_path):
    """FILE-2: an export never follows a path stored in an item."""
    secret = tmp_path / "secret.txt"
    secret.write_text("host-secret-content")
    ItemFactory(project=team.project, external_id="img",
                data={"text": "x", "image": f"/media/../..{secret}"})  # fmt: skip
    exported = export_bytes(team.project, "jsonl")
    assert f"/media/../..{secret}".encode() in exported
    assert b"host-secret-content" not in exported


def test_integers_beyond_64_bits_are_exported_exactly(team, tmp_path):
    """orjson cannot hold them; the export falls back to `json` rather than round them."""
    item = ItemFactory(project=team.project, external_id="big", data={"text": "x", "n": 2**70})
    annotate(item, team.annotators, [{"label": "x", "n": -(2**65)}] * 3)
    assert records_of(team.project)["big"]["data"]["n"] == 2**70
    lines = export_bytes(team.project, "jsonl").splitlines()
    [big] = [json.loads(line) for line in lines if b'"big"' in line]
    assert (big["data"]["n"], big["final"]["value"]["n"]) == (2**70, -(2**65))
    out = io.BytesIO()
    write_jsonl(export_records(team.project, "final"), out)
    assert b'"n":1180591620717411303424' in out.getvalue()
    path = tmp_path / "big.parquet"
    write_parquet(export_records(team.project, "final"), path)
    [data] = [row["data"] for row in pq.read_table(path).to_pylist() if row["id"] == "big"]
    assert json.loads(data)["n"] == 2**70


# --- the three formats ------------------------------------------------------------------------


def test_jsonl_holds_one_record_per_line(labelled, team):
    out = io.BytesIO()
    write_jsonl(export_records(team.project, "final"), out)
    lines = out.getvalue().splitlines()
    assert [orjson.loads(line) for line in lines] == list(records_of(team.project).values())
    # The stream and the job pass the database's JSON through unparsed: the same records.
    streamed = export_bytes(team.project, "jsonl").splitlines()
    assert [orjson.loads(line) for line in streamed] == [orjson.loads(line) for line in lines]


def csv_rows(data: bytes) -> list[dict]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8"), newline="")))


def test_csv_is_a_flat_table_with_json_cells(labelled, team):
    out = io.BytesIO()
    write_csv(export_records(team.project, "final"), out)
    rows = {row["id"]: row for row in csv_rows(out.getvalue())}
    assert list(rows["all-agree"]) == ["id", "text", "data", "metadata", "split", "source",
                                       "prediction", "final_label", "final_rule", "agreement",
                                       "n_annotations", "annotations"]  # fmt: skip
    agree = rows["all-agree"]
    assert (agree["text"], agree["data"], agree["split"]) == ("Card charged twice", "", "train")
    assert (agree["final_label"], agree["final_rule"], agree["agreement"]) == (
        "billing",
        "unanimous",
        "1.0",
    )
    assert orjson.loads(agree["annotations"])[0] == {"annotator": "anna_1", "value": BILLING}
    assert orjson.loads(agree["metadata"]) == {"lang": "en"}
    assert orjson.loads(rows["two-of-three"]["data"]) == {"text": "Money back?", "channel": "email"}
    assert (rows["nobody"]["final_label"], rows["nobody"]["agreement"]) == ("", "")
    assert out.getvalue().count(b"\r\n") == 5  # RFC 4180 line ends: header and four rows
    assert out.getvalue() == export_bytes(team.project, "csv")


def test_csv_in_mode_annotations_has_one_row_per_annotator(labelled, team):
    rows = csv_rows(export_bytes(team.project, "csv", "annotations"))
    assert list(rows[0])[-3:] == ["annotator", "label", "seconds_spent"]
    agree = [
        (r["annotator"], r["label"], r["seconds_spent"]) for r in rows if r["id"] == "all-agree"
    ]
    assert agree == [(f"anna_{i}", "billing", "4.5") for i in (1, 2, 3)]


@pytest.mark.parametrize("prefix", ["=", "+", "-", "@", "\t", "\r"])
def test_csv_cells_that_could_run_as_formulas_are_neutralised(team, prefix):
    """EXP-1: a leading ' in CSV for each dangerous first character; JSONL keeps the text."""
    Item.objects.filter(project=team.project).delete()
    text = f'{prefix}HYPERLINK("http://evil.example","x")'
    ItemFactory(project=team.project, external_id=f"{prefix}id", data={"text": text},
                source=f"{prefix}src")  # fmt: skip
    [row] = csv_rows(export_bytes(team.project, "csv"))
    assert (row["text"], row["id"], row["source"]) == ("'" + text, f"'{prefix}id", f"'{prefix}src")
    [record] = [orjson.loads(line) for line in export_bytes(team.project, "jsonl").splitlines()]
    assert (record["data"]["text"], record["id"], record["source"]) == (
        text,
        f"{prefix}id",
        f"{prefix}src",
    )


def test_csv_quotes_commas_quotes_and_line_breaks(team):
    Item.objects.filter(project=team.project).delete()
    text = 'She said "no",\nthen left'
    ItemFactory(project=team.project, external_id="q", data={"text": text})
    data = export_bytes(team.project, "csv")
    assert b'"She said ""no"",\nthen left"' in data
    assert csv_rows(data)[0]["text"] == text


def test_parquet_has_a_fixed_typed_schema_and_the_same_columns_as_csv(labelled, team, tmp_path):
    path = tmp_path / "out.parquet"
    write_parquet(export_records(team.project, "final"), path)
    table = pq.read_table(path)
    assert {f.name: str(f.type) for f in table.schema} == {
        "id": "string", "text": "string", "data": "string", "metadata": "string",
        "split": "string", "source": "string", "prediction": "string", "final_label": "string",
        "final_rule": "string", "agreement": "double", "n_annotations": "int64",
        "annotations": "string",
    }  # fmt: skip
    rows = {row["id"]: row for row in table.to_pylist()}
    assert rows["two-of-three"]["final_label"] == "refund"
    assert rows["two-of-three"]["agreement"] == pytest.approx(1 / 3)
    assert rows["nobody"]["n_annotations"] == 0
    assert rows["nobody"]["agreement"] is None
    assert orjson.loads(rows["all-agree"]["prediction"])["scores"] == {"billing": 0.9}
    assert rows["all-agree"]["text"].startswith("Card")  # Parquet is never neutralised


def test_parquet_of_an_empty_project_is_a_valid_file(team, tmp_path):
    Item.objects.filter(project=team.project).delete()
    path = tmp_path / "empty.parquet"
    write_parquet(export_records(team.project, "annotations"), path, mode="annotations")
    assert pq.read_table(path).num_rows == 0


def test_parquet_cannot_be_streamed(team):
    with pytest.raises(ValueError, match="cannot be streamed"):
        next(export_stream(team.project, "parquet", "final"))


# --- round trip and other readers -------------------------------------------------------------


def test_a_jsonl_export_imports_back_unchanged(labelled, team, tmp_path):
    """The import reads Concord's export: same items, same annotations, derived keys ignored."""
    from adjudication.services import reviews_sync
    from annotation.services import items_recount

    # The import settles or queues the complete items it brings; the fixture's items were made
    # without the services, so they are counted and settled here the same way before comparing.
    items_recount(project=team.project)
    reviews_sync(project=team.project)
    path = tmp_path / "export.jsonl"
    with open(path, "wb") as fh:
        write_jsonl(export_records(team.project, "final"), fh)
    copy = ProjectFactory(slug="copy")
    run = JobRun.objects.create(project=copy, kind="import")
    counts = import_file(run=run, path=path, filename="export.jsonl",
                         options=ImportOptions(format="jsonl"), report=lambda *_: None)  # fmt: skip
    assert (counts["items_created"], counts["annotations_created"]) == (4, 9)

    def snapshot(project):
        fields = ("external_id", "data", "metadata", "split", "source", "prediction")
        items = sorted(project.items.values_list(*fields))
        labels = sorted(
            (a.item.external_id, a.annotator.username, orjson.dumps(a.value))
            for a in Annotation.objects.filter(item__project=project).select_related("item",
                                                                                     "annotator")
        )  # fmt: skip
        return items, labels

    assert snapshot(copy) == snapshot(team.project)
    assert records_of(copy) == records_of(team.project)


@pytest.fixture
def offline_hf(monkeypatch, tmp_path):
    """`datasets` without the network and with its caches in tmp_path."""
    for name, value in {"HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1",
                        "HF_HOME": str(tmp_path / "hf"),
                        "HF_DATASETS_DISABLE_PROGRESS_BARS": "1"}.items():  # fmt: skip
        monkeypatch.setenv(name, value)
    return tmp_path / "hf-cache"


def test_datasets_loads_the_jsonl_and_parquet_exports(labelled, team, tmp_path, offline_hf):
    import datasets

    jsonl, parquet = tmp_path / "x.jsonl", tmp_path / "x.parquet"
    with open(jsonl, "wb") as fh:
        write_jsonl(export_records(team.project, "final"), fh)
    write_parquet(export_records(team.project, "final"), parquet)
    cache = str(offline_hf)
    from_json = datasets.load_dataset("json", data_files=str(jsonl), cache_dir=cache)["train"]
    from_parquet = datasets.load_dataset("parquet", data_files=str(parquet), cache_dir=cache)[
        "train"
    ]
    assert from_json.num_rows == from_parquet.num_rows == 4
    by_id = {row["id"]: row for row in from_json}
    assert by_id["all-agree"]["final"] == {"value": BILLING, "rule": "unanimous"}
    assert by_id["two-of-three"]["data"] == {"text": "Money back?", "channel": "email"}
    assert [a["annotator"] for a in by_id["all-differ"]["annotations"]] == [
        "anna_1", "anna_2", "anna_3"
    ]  # fmt: skip
    assert dict(zip(from_parquet["id"], from_parquet["final_rule"], strict=True)) == {
        "all-agree": "unanimous", "two-of-three": "majority", "all-differ": "no_majority",
        "nobody": "unlabeled",
    }  # fmt: skip


def test_pandas_reads_the_jsonl_and_parquet_exports(labelled, team, tmp_path):
    import pandas as pd

    jsonl, parquet = tmp_path / "x.jsonl", tmp_path / "x.parquet"
    with open(jsonl, "wb") as fh:
        write_jsonl(export_records(team.project, "annotations"), fh)
    write_parquet(export_records(team.project, "annotations"), parquet, mode="annotations")
    frame = pd.read_json(jsonl, lines=True)
    assert len(frame) == 10
    assert list(frame.columns) == ["id", "data", "metadata", "split", "source", "annotator",
                                   "value", "seconds_spent"]  # fmt: skip
    assert frame.loc[frame["id"] == "all-agree", "annotator"].tolist() == [
        "anna_1", "anna_2", "anna_3"
    ]  # fmt: skip
    table = pd.read_parquet(parquet)
    assert len(table) == 10
    assert table.loc[table["id"] == "two-of-three", "label"].tolist() == [
        "refund", "billing", "refund"
    ]  # fmt: skip


# --- the export job, its file and retention ---------------------------------------------------


def run_export(team, fmt="jsonl", mode="final") -> JobRun:
    run = export_start(project=team.project, user=team.lead, fmt=fmt, mode=mode)
    job_run_execute.run(run.pk)
    run.refresh_from_db()
    return run


@pytest.mark.parametrize("fmt", FORMATS)
def test_the_export_job_writes_a_file_and_counts(labelled, team, media, fmt):
    run = run_export(team, fmt, "annotations")
    assert run.status == JobStatus.DONE, run.message
    path = export_file(run)
    assert path is not None and path.parent == media / "exports"
    assert path.name == run.params["stored_name"] and path.suffix == f".{fmt}"
    assert run.counts == {"items": 4, "records": 10, "bytes": path.stat().st_size}
    assert run.message.startswith("Exported 4 items (10 records) as ")
    assert os.listdir(path.parent) == [path.name]  # no partial file left
    if fmt == "jsonl":
        assert path.read_bytes() == export_bytes(team.project, "jsonl", "annotations")


def test_export_start_names_the_field_it_refuses(team):
    with pytest.raises(ValidationError) as refused:
        export_start(project=team.project, user=team.lead, fmt="xlsx", mode="final")
    assert list(refused.value.message_dict) == ["format"]
    with pytest.raises(ValidationError) as refused:
        export_start(project=team.project, user=team.lead, fmt="csv", mode="everything")
    assert list(refused.value.message_dict) == ["mode"]
    assert not JobRun.objects.filter(kind="export").exists()


def test_a_second_export_while_one_is_queued_returns_the_first(team):
    """JOB-6: even when asked for another format, the active run comes back as it is."""
    first = export_start(project=team.project, user=team.lead, fmt="jsonl", mode="final")
    second = export_start(project=team.project, user=team.lead, fmt="csv", mode="annotations")
    assert second.pk == first.pk
    assert second.params["format"] == "jsonl"


def test_a_cancelled_export_leaves_no_file(labelled, team, media):
    run = export_start(project=team.project, user=team.lead, fmt="parquet", mode="final")

    def cancel(progress, counts):
        raise JobCancelled

    with pytest.raises(JobCancelled):
        export_job(run, cancel)
    assert list(export_dir().iterdir()) == []


def test_the_sweep_deletes_old_exports_and_their_links_die(labelled, team, media, settings):
    """EXP-4: after EXPORT_RETENTION_HOURS the file is gone and export_file says so."""
    run = run_export(team)
    path = export_file(run)
    leftover = export_dir() / "0123abcd.csv.part"  # from a worker killed mid-export
    leftover.write_bytes(b"partial")
    assert exports_sweep() == 0
    assert path.exists() and leftover.exists()

    later = timezone.now() + timedelta(hours=settings.EXPORT_RETENTION_HOURS + 1)
    os.utime(leftover, (0, 0))
    assert exports_sweep(now=later) == 2
    assert not path.exists() and not leftover.exists()
    run.refresh_from_db()
    assert run.counts["expired"] is True and run.counts["items"] == 4
    assert export_file(run) is None
    assert exports_sweep(now=later) == 0


def test_an_export_past_retention_is_not_offered_even_before_the_sweep(labelled, team, media):
    run = run_export(team)
    JobRun.objects.filter(pk=run.pk).update(finished_at=timezone.now() - timedelta(days=30))
    run.refresh_from_db()
    assert export_file(run) is None


# --- queries ----------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_export_queries_do_not_grow_with_items(team, mode, django_assert_num_queries):
    """For a chunk of items: one query for the items, one for their annotations, and in mode
    "final" one for their reviews and gold answers, however many items."""
    for count in (3, 40):
        Item.objects.filter(project=team.project).delete()
        for item in ItemFactory.create_batch(count, project=team.project):
            annotate(item, team.annotators, [BILLING] * 3)
        with django_assert_num_queries(3 if mode == "final" else 2):
            records = [r for chunk in export_records(team.project, mode) for r in chunk]
        assert len(records) == count * (3 if mode == "annotations" else 1)


def test_export_reads_in_chunks_of_items(team, django_assert_num_queries):
    Item.objects.filter(project=team.project).delete()
    ItemFactory.create_batch(25, project=team.project)
    with django_assert_num_queries(9):  # three chunks of 10, 10 and 5 items, three queries each
        chunks = list(export_records(team.project, "final", chunk_size=10))
    assert [len(chunk) for chunk in chunks] == [10, 10, 5]
    ids = [r["id"] for chunk in chunks for r in chunk]
    assert ids == list(team.project.items.order_by("pk").values_list("external_id", flat=True))


# --- the command ------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_the_command_writes_the_export(labelled, team, tmp_path, fmt):
    path = tmp_path / f"out.{fmt}"
    call_command("export_items", team.project.slug, "--format", fmt, "-o", str(path),
                 stderr=io.StringIO())  # fmt: skip
    if fmt == "jsonl":
        assert path.read_bytes() == export_bytes(team.project, "jsonl")
    elif fmt == "csv":
        assert path.read_bytes() == export_bytes(team.project, "csv")
    else:
        assert pq.read_table(path).num_rows == 4


def test_the_command_says_what_is_wrong(team, tmp_path):
    with pytest.raises(CommandError, match="No project with the slug 'nope'"):
        call_command("export_items", "nope", "--format", "jsonl", "-o", str(tmp_path / "x"))
    with pytest.raises(CommandError, match="Parquet cannot go to stdout"):
        call_command("export_items", team.project.slug, "--format", "parquet", "-o", "-")
    missing = str(tmp_path / "no-such-dir" / "x.csv")
    with pytest.raises(CommandError, match="no-such-dir"):
        call_command("export_items", team.project.slug, "--format", "csv", "-o", missing,
                     stderr=io.StringIO())  # fmt: skip
