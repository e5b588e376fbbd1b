"""Imports refuse what cannot be labeled and say so plainly: preference items need both
responses in their data, every kept Label Studio annotation needs its annotator, a text may not
be blank, a JSON line's error names the column where it broke, and the finish message counts
in good English."""

import json

import orjson
import pytest
from django.urls import reverse
from hypothesis import given
from hypothesis import strategies as st

from annotation.models import Annotation, LabelSchema
from curation.hashing import text_hash
from curation.importing.rows import Mapping, build_row
from curation.models import Item, JobStatus, Role
from tests.curation.test_import import assert_nothing_imported, csv_bytes, items, jsonl, state
from tests.factories import MembershipFactory, ProjectFactory

PREFERENCE_NEEDS = 'this project\'s label schema needs "response_a" and "response_b" in every item.'


@pytest.fixture
def preference(team):
    return LabelSchema.objects.create(project=team.project, kind="preference", config={})


def messages(run) -> list[tuple]:
    return [(e["line"], e["field"], e["code"], e["message"]) for e in run.errors]


def lacks(line: int, field: str, state: str = "missing") -> tuple:
    """The error of a row whose `field`, needed by the preference schema, is missing or empty."""
    code = "missing_field" if state == "missing" else "field_empty"
    return (line, field, code, f"line {line}: field `{field}` is {state}: {PREFERENCE_NEEDS}")


# --- preference items carry both responses in their data ------------------------------------


def test_preference_rows_put_the_responses_and_prompt_into_data(team, run_import, preference):
    run = run_import(
        jsonl(
            {"id": "q0", "text": "Customer: my order is late", "response_a": "Sorry, let me check.",
             "response_b": "Wait.", "lang": "en"},
            {"id": "q1", "prompt": "Say hello", "response_a": "Hello!", "response_b": "Hi.",
             "metadata": {"batch": 4}},
        )
    )  # fmt: skip
    assert run.status == JobStatus.DONE, run.errors
    assert run.message == "Imported 2 items from items.jsonl."
    got = items(team.project)
    # A text without a prompt is the prompt: shown above the pair, and hashed with it.
    assert got["q0"].data == {
        "prompt": "Customer: my order is late",
        "response_a": "Sorry, let me check.",
        "response_b": "Wait.",
    }
    assert got["q0"].metadata == {"lang": "en"}
    assert got["q1"].data == {"prompt": "Say hello", "response_a": "Hello!", "response_b": "Hi."}
    assert got["q1"].metadata == {"batch": 4}


def test_pairs_sharing_a_prompt_are_not_duplicates_but_repeated_pairs_are(
    team, run_import, preference
):
    same = {"text": "Customer: my order is late", "response_a": "Sorry.", "response_b": "Wait."}
    other = {**same, "response_b": "Let me check."}
    run = run_import(jsonl({"id": "a", **same}, {"id": "b", **other}, {"id": "c", **same}))
    assert run.status == JobStatus.DONE, run.errors
    assert run.counts["duplicates_in_file"] == 1  # c repeats a; b differs in a response


def test_an_imported_pair_shows_on_the_labeling_page(team, run_import, client_for):
    project = ProjectFactory(slug="pairs")
    LabelSchema.objects.create(project=project, kind="preference", config={})
    MembershipFactory(project=project, user=team.lead, role=Role.LEAD)
    MembershipFactory(project=project, user=team.annotator, role=Role.ANNOTATOR)
    row = {"id": "p1", "prompt": "Which greeting?", "response_a": "Good morning to you",
           "response_b": "Yo"}  # fmt: skip
    run = run_import(jsonl(row), project=project)
    assert run.status == JobStatus.DONE, run.errors
    page = client_for(team.annotator).get(reverse("annotation:label", kwargs={"slug": "pairs"}))
    html = page.content.decode()
    assert '<section class="pair-prompt" aria-label="Prompt"><div class="item-text">' \
           "Which greeting?</div>" in html  # fmt: skip
    assert html.count('<div class="item-text">Good morning to you</div>') == 1
    assert html.count('<div class="item-text">Yo</div>') == 1


def test_preference_annotations_import_against_the_responses(team, run_import, preference):
    said = [{"annotator": "anna_1", "value": {"choice": "A"}}]
    row = {"id": "q0", "text": "Customer: my order is late", "response_a": "Sorry",
           "response_b": "Wait.", "annotations": said}  # fmt: skip
    run = run_import(jsonl(row))
    assert run.status == JobStatus.DONE, run.errors
    annotation = Annotation.objects.get(item__project=team.project, item__external_id="q0")
    assert annotation.value == {"choice": "A"}


def test_a_pair_without_a_response_names_line_and_field_and_nothing_lands(
    team, run_import, preference
):
    before = state(team.project)
    run = run_import(
        jsonl(
            {"id": "q0", "text": "t0", "response_a": "a", "response_b": "b"},
            {"id": "q1", "text": "t1", "response_a": "a", "response_b": "b"},
            {"id": "x2", "text": "Customer: my order is late", "response_a": "Sorry"},
            {"id": "x3", "text": "nothing to compare"},
            {"id": "x4", "response_a": "a", "response_b": "   "},
        )
    )
    assert_nothing_imported(run, before, team.project, rows=3)
    assert run.errors[0]["message"] == (
        'line 3: field `response_b` is missing: this project\'s label schema needs "response_a" '
        'and "response_b" in every item.'
    )
    assert messages(run) == [
        lacks(3, "response_b"),
        lacks(4, "response_a"),
        lacks(4, "response_b"),
        lacks(5, "response_b", "empty"),
    ]


def test_skip_invalid_leaves_out_the_pair_without_a_response(team, run_import, preference):
    run = run_import(
        jsonl(
            {"id": "q0", "text": "t0", "response_a": "a", "response_b": "b"},
            {"id": "x1", "text": "t1", "response_a": "a"},
        ),
        skip_invalid=True,
    )
    assert run.status == JobStatus.DONE
    assert run.message == "Imported 1 item from items.jsonl."
    assert (run.counts["items_created"], run.counts["invalid_rows"]) == (1, 1)
    assert messages(run) == [lacks(2, "response_b")]
    assert set(items(team.project)) == {"q0"}


def test_data_objects_in_a_preference_project_are_checked_too(team, run_import, preference):
    before = state(team.project)
    run = run_import(
        jsonl(
            {"id": "d0", "data": {"prompt": "p", "response_a": "a", "response_b": "b"}},
            {"id": "d1", "data": {"text": "Customer: my order is late", "response_a": "Sorry"}},
        )
    )
    assert_nothing_imported(run, before, team.project)
    assert messages(run) == [
        (2, "data.response_b", "missing_field",
         f"line 2: field `data.response_b` is missing: {PREFERENCE_NEEDS}"),
    ]  # fmt: skip


def test_labelstudio_tasks_in_a_preference_project_are_checked(team, run_import, preference):
    tasks = [{"id": 1, "data": {"prompt": "p", "response_a": "a", "response_b": "b"}},
             {"id": 2, "data": {"prompt": "p", "answer": "a"}}]  # fmt: skip
    before = state(team.project)
    run = run_import(json.dumps(tasks, indent=None).encode(), "tasks.json", format="labelstudio")
    assert_nothing_imported(run, before, team.project)
    assert [e["message"] for e in run.errors] == [
        f"line 1 (element 2): field `data.response_a` is missing: {PREFERENCE_NEEDS}",
        f"line 1 (element 2): field `data.response_b` is missing: {PREFERENCE_NEEDS}",
    ]


def test_a_preference_csv_with_an_empty_response_cell_names_it(team, run_import, preference):
    content = csv_bytes(
        ["id", "text", "response_a", "response_b"],
        ["c1", "", "first", "second"],  # the text is optional here: an empty cell leaves it out
        ["c2", "t", "first", ""],
    )
    before = state(team.project)
    run = run_import(content, "pairs.csv")
    assert_nothing_imported(run, before, team.project)
    assert messages(run) == [lacks(3, "response_b", "empty")]
    run = run_import(content, "pairs.csv", skip_invalid=True)
    assert items(team.project)["c1"].data == {"response_a": "first", "response_b": "second"}


def test_chosen_data_fields_must_still_hold_the_responses(team, run_import, preference):
    before = state(team.project)
    run = run_import(
        jsonl({"id": "m1", "question": "q", "response_a": "a", "other": "b"}),
        mapping={"data_fields": ["question", "response_a", "other"], "text": "question"},
    )
    assert_nothing_imported(run, before, team.project)
    assert messages(run) == [lacks(1, "response_b")]


@pytest.mark.parametrize("kind", [None, "single_choice"])
def test_other_projects_keep_response_fields_in_metadata(team, run_import, kind):
    if kind:
        config = {"labels": [{"value": "billing"}, {"value": "shipping"}]}
        LabelSchema.objects.create(project=team.project, kind=kind, config=config)
    run = run_import(jsonl({"id": "o1", "text": "t", "response_a": "a", "prompt": "p"},
                           {"id": "o2", "data": {"body": "no text, no responses"}}))  # fmt: skip
    assert run.status == JobStatus.DONE, run.errors
    got = items(team.project)
    assert (got["o1"].data, got["o1"].metadata) == (
        {"text": "t"},
        {"response_a": "a", "prompt": "p"},
    )
    assert got["o2"].data == {"body": "no text, no responses"}


def test_preference_rows_take_the_general_path_and_plain_ones_the_fast_path():
    assert Mapping.from_dict({}, needed=()).plain
    assert not Mapping.from_dict({}, needed=("response_a", "response_b")).plain
    # The import sets these itself; a mapping sent by a user cannot.
    mapping = Mapping.from_dict({"needed": ["text"], "cells": False})
    assert (mapping.needed, mapping.cells) == ((), True)


# --- Label Studio annotations name their annotator -------------------------------------------


def ls_task(task_id: int, *annotations) -> dict:
    return {"id": task_id, "data": {"text": f"Task {task_id}"}, "annotations": list(annotations)}


def choice(label: str, **extra) -> dict:
    return {"result": [{"type": "choices", "value": {"choices": [label]}}], **extra}


NO_ANNOTATOR = ('this Label Studio annotation has no "completed_by", and Concord needs to know '
                "who gave each label; export the tasks again with their annotators, or remove "
                "the annotation.")  # fmt: skip


def test_labelstudio_annotations_without_completed_by_are_refused_by_field(team, run_import):
    labels = {"labels": [{"value": "billing"}, {"value": "shipping"}]}
    LabelSchema.objects.create(project=team.project, kind="single_choice", config=labels)
    tasks = [
        ls_task(1, choice("billing", completed_by={"id": 3, "email": "anna_2@example.org"})),
        ls_task(2, choice("billing", completed_by=5), choice("shipping")),
        ls_task(3, choice("billing", completed_by=None), choice("shipping", completed_by=None)),
        ls_task(4, choice("billing", completed_by={"email": None})),
    ]
    content = ("[\n" + ",\n".join(json.dumps(t) for t in tasks) + "\n]").encode()
    before = state(team.project)
    run = run_import(content, "tasks.json", format="labelstudio")
    assert_nothing_imported(run, before, team.project, rows=3)
    assert messages(run) == [
        (3, "annotations[1].completed_by", "no_annotator",
         f"line 3 (element 2): field `annotations[1].completed_by`: {NO_ANNOTATOR}"),
        (4, "annotations[0].completed_by", "no_annotator",
         f"line 4 (element 3): field `annotations[0].completed_by`: {NO_ANNOTATOR}"),
        (5, "annotations[0].completed_by", "no_annotator",
         f"line 5 (element 4): field `annotations[0].completed_by`: {NO_ANNOTATOR}"),
    ]  # fmt: skip
    assert not Item.objects.filter(project=team.project, external_id__in=["1", "2"]).exists()


def test_cancelled_labelstudio_annotations_need_no_annotator(team, run_import):
    tasks = [ls_task(7, choice("billing", completed_by=2),
                     choice("shipping", was_cancelled=True))]  # fmt: skip
    run = run_import(json.dumps(tasks).encode(), "tasks.json", format="labelstudio")
    assert run.status == JobStatus.DONE, run.errors
    assert dict(items(team.project)["7"].annotations.values_list("annotator__username", "value")) \
        == {"ls-user-2": {"label": "billing"}}  # fmt: skip


def test_skip_invalid_leaves_out_a_task_whose_annotator_is_unknown(team, run_import):
    tasks = [ls_task(1, choice("billing", completed_by=2)), ls_task(2, choice("billing"))]
    run = run_import(json.dumps(tasks).encode(), "tasks.json", format="labelstudio",
                     skip_invalid=True)  # fmt: skip
    assert run.status == JobStatus.DONE
    assert (run.counts["items_created"], run.counts["invalid_rows"]) == (1, 1)
    assert set(items(team.project)) == {"1"}
    assert [e["field"] for e in run.errors] == ["annotations[0].completed_by"]


# --- messages that say what is wrong ---------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "column"),
    [
        (b'{"id":"x2","text": "broken json"', 33),  # cut short: the end of the line
        (b'{"id":"x2","text": "broken json"\r', 33),
        (b'{"id": "x2", "text": "\xc3\xa9\xf0\x9f\x98\x80 ok", oops}', 31),  # counts characters
        (b'  {"id": "x2", "text": tru}', 24),
    ],
)
def test_invalid_json_names_the_column_where_the_line_broke(team, run_import, line, column):
    before = state(team.project)
    run = run_import(b'{"id": "x1", "text": "fine"}\n' + line + b"\n")
    assert_nothing_imported(run, before, team.project)
    assert messages(run) == [
        (2, "", "invalid_json", f"line 2: is not valid JSON near column {column}.")
    ]


def test_a_truncated_last_line_without_a_newline_names_its_end(team, run_import):
    run = run_import(b'{"id": "x1", "text": "fine"}\n{"id":"x2","text": "broken json"')
    assert [e["message"] for e in run.errors] == ["line 2: is not valid JSON near column 33."]


def test_metadata_given_as_text_must_be_an_object(team, run_import):
    before = state(team.project)
    run = run_import(
        jsonl(
            {"id": "m1", "text": "t", "metadata": "notobj"},
            {"id": "m2", "text": "t", "metadata": 7},
            {"id": "m3", "text": "t", "metadata": "{not json"},
            {"id": "m4", "text": "t", "prediction": "billing"},
        )
    )
    assert_nothing_imported(run, before, team.project, rows=4)
    assert messages(run) == [
        (1, "metadata", "not_an_object",
         'line 1: field `metadata` must be an object such as {"channel": "email"}, not text.'),
        (2, "metadata", "not_an_object",
         'line 2: field `metadata` must be an object such as {"channel": "email"}, not a number.'),
        (3, "metadata", "invalid_json", "line 3: field `metadata` is not valid JSON."),
        (4, "prediction", "bad_prediction",
         'line 4: field `prediction` must be an object with "label" and/or "scores".'),
    ]  # fmt: skip


def test_metadata_written_as_json_text_in_a_json_line_still_lands(team, run_import):
    run = run_import(jsonl({"id": "m1", "text": "t", "metadata": '{"channel": "email"}'}))
    assert run.status == JobStatus.DONE, run.errors
    assert items(team.project)["m1"].metadata == {"channel": "email"}


def test_a_csv_metadata_cell_that_is_not_json_says_so(team, run_import):
    before = state(team.project)
    run = run_import(csv_bytes(["id", "text", "metadata"], ["c1", "t", "notobj"]), "items.csv")
    assert_nothing_imported(run, before, team.project)
    assert messages(run) == [
        (2, "metadata", "invalid_json", "line 2: field `metadata` is not valid JSON.")
    ]


def test_blank_texts_are_refused_in_every_shape(team, run_import):
    before = state(team.project)
    run = run_import(
        jsonl(
            {"id": "e1", "text": ""},
            {"id": "e2", "text": "   "},
            {"id": "e3", "text": "\n\t", "split": "train"},
            {"id": "e4", "data": {"text": " "}},
            {"id": "ok", "text": " fine "},
        )
    )
    assert_nothing_imported(run, before, team.project, rows=4)
    assert messages(run) == [
        (line, "text", "text_empty", f"line {line}: field `text` is empty.")
        for line in (1, 2, 3, 4)
    ]
    run = run_import(csv_bytes(["id", "body"], ["c1", "fine"], ["c2", ""]), "items.csv",
                     mapping={"text": "body"})  # fmt: skip
    assert messages(run) == [(3, "body", "text_empty", "line 3: field `body` is empty.")]
    assert state(team.project) == before


def test_skip_invalid_leaves_out_blank_texts(team, run_import):
    run = run_import(
        jsonl({"id": "e1", "text": ""}, {"id": "ok", "text": "fine"}), skip_invalid=True
    )
    assert run.status == JobStatus.DONE
    assert run.message == "Imported 1 item from items.jsonl."
    assert set(items(team.project)) == {"ok"}


def test_an_empty_id_means_no_id_on_both_paths(team, run_import):
    """An empty id is an absent one (an empty CSV cell reads as ""): the item gets a made id."""
    run = run_import(
        jsonl({"id": "", "text": "plain"}, {"id": "", "text": "with split", "split": "dev"})
    )
    assert run.status == JobStatus.DONE, run.errors
    got = items(team.project)
    assert set(got) == {f"{text_hash('plain')[:16]}-1", f"{text_hash('with split')[:16]}-2"}


texts = st.one_of(
    st.sampled_from(["", " ", "\t\n", "\u3000", "\u200b", " x "]), st.text(max_size=8)
)
others = st.one_of(
    st.none(),
    st.text(max_size=4),
    st.integers(),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)


@given(text=texts, id_=others, metadata=others, cells=st.booleans())
def test_the_fast_path_agrees_with_the_general_path_on_blank_texts(text, id_, metadata, cells):
    fields = {"text": text, "id": id_, "metadata": metadata}
    fast = Mapping.from_dict({}, cells=cells)
    general = Mapping.from_dict({}, cells=cells)
    general.plain = False
    extensions = {"annotations": None}
    assert build_row("line 3", 3, fields, fast, extensions) == build_row(
        "line 3", 3, fields, general, extensions
    )


# --- the finish message ----------------------------------------------------------------------


def test_the_finish_message_counts_one_item_and_many_items(team, run_import):
    assert run_import(jsonl({"text": "one"}), "x.jsonl").message == "Imported 1 item from x.jsonl."
    run = run_import(jsonl({"text": "two"}, {"text": "three"}), "y.jsonl")
    assert run.message == "Imported 2 items from y.jsonl."
    run = run_import(jsonl({"text": ""}), "z.jsonl", skip_invalid=True)
    assert run.message == "Imported 0 items from z.jsonl."


def test_orjson_reports_the_position_in_characters():
    """The column in the messages above relies on this: orjson's `pos` counts characters."""
    with pytest.raises(orjson.JSONDecodeError) as caught:
        orjson.loads('{"t": "é😀", x}'.encode())
    assert caught.value.pos == 12  # 16 in bytes


# --- the garbage collector, off while rows stream through, is back on afterwards --------------


@pytest.mark.parametrize("content", [jsonl({"id": "g1", "text": "fine"}), b"{not json\n"])
def test_the_garbage_collector_is_on_again_after_an_import(run_import, content):
    import gc

    run = run_import(content)
    assert run.status in (JobStatus.DONE, JobStatus.FAILED)
    assert gc.isenabled()
