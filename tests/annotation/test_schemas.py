"""Label schemas as plain data: every kind's configs and values, the buttons they give, and which
schema changes would orphan existing annotations."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from annotation.models import SchemaKind
from annotation.schemas import (
    KIND_NAMES,
    Choice,
    config_problems,
    default_config,
    label_choices,
    orphaned_values,
    value_problems,
)

KINDS = list(KIND_NAMES)


def labels(*values, **extra) -> dict:
    return {"labels": [{"value": v} for v in values], **extra}


def fields(problems) -> list[str]:
    return [field for field, _ in problems]


def scale(*values) -> dict:
    return {"scale": [{"value": v} for v in values]}


# --- configs ----------------------------------------------------------------------------------


def test_kinds_are_the_models_kinds():
    assert set(KIND_NAMES) == set(SchemaKind.values)


@pytest.mark.parametrize("kind", KINDS)
def test_every_starter_config_is_valid_and_fresh(kind):
    assert config_problems(kind, default_config(kind)) == []
    default_config(kind)["changed"] = True
    assert "changed" not in default_config(kind)


def test_an_unknown_kind_or_a_config_that_is_not_an_object_is_refused():
    assert fields(config_problems("ranking", {})) == ["kind"]
    assert config_problems("single_choice", ["a", "b"]) == [("", "must be a JSON object.")]
    with pytest.raises(ValueError):
        default_config("ranking")


def test_a_label_config_with_every_field_is_valid():
    config = {
        "labels": [
            {"value": "spam", "text": "Spam", "hotkey": "1", "color": "#B42318",
             "description": "Advertising."},
            {"value": "ham", "text": "Not spam", "hotkey": "a"},
        ]
    }  # fmt: skip
    assert config_problems("single_choice", config) == []


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ({}, ["labels"]),
        ({"labels": "spam, ham"}, ["labels"]),
        (labels("only"), ["labels"]),  # single choice needs two
        ({"labels": ["spam", "ham"]}, ["labels[0]", "labels[1]"]),
        ({"labels": [{"text": "Spam"}, {"value": "ham"}]}, ["labels[0].value"]),
        (labels("spam", "spam"), ["labels[1].value"]),
        (labels("spam", ""), ["labels[1].value"]),
        (labels("spam", " ham"), ["labels[1].value"]),
        (labels("spam", 7), ["labels[1].value"]),
        (labels("spam", "x" * 101), ["labels[1].value"]),
        (labels("spam", "ham", colour="red"), ["colour"]),
        ({"labels": [{"value": "spam", "colour": "#ff0000"}, {"value": "ham"}]},
         ["labels[0].colour"]),
        ({"labels": [{"value": "a", "text": ""}, {"value": "b", "text": "x" * 101}]},
         ["labels[0].text", "labels[1].text"]),
        ({"labels": [{"value": "a", "color": "red"}, {"value": "b", "color": "#12345g"}]},
         ["labels[0].color", "labels[1].color"]),
        ({"labels": [{"value": "a", "description": "x" * 501}, {"value": "b"}]},
         ["labels[0].description"]),
        ({"labels": [{"value": "a", "description": 5}, {"value": "b"}]},
         ["labels[0].description"]),
    ],
)  # fmt: skip
def test_single_choice_config_problems_name_their_field(config, expected):
    assert fields(config_problems("single_choice", config)) == expected


@pytest.mark.parametrize("key", ["Enter", "s", "S", "z", "Z", "?", "Backspace"])
def test_reserved_hotkeys_are_refused(key):
    config = {"labels": [{"value": "a", "hotkey": key}, {"value": "b"}]}
    [(field, message)] = config_problems("single_choice", config)
    assert field == "labels[0].hotkey"
    assert "reserved by the labeling page" in message


@pytest.mark.parametrize("key", ["12", "", " ", 1, None])
def test_a_hotkey_is_one_visible_character(key):
    config = {"labels": [{"value": "a", "hotkey": key}, {"value": "b"}]}
    assert config_problems("single_choice", config) == [
        ("labels[0].hotkey", "must be a single character, such as 1 or a.")
    ]


def test_hotkeys_are_unique_ignoring_case():
    config = {"labels": [{"value": "a", "hotkey": "k"}, {"value": "b", "hotkey": "K"}]}
    assert config_problems("single_choice", config) == [
        ("labels[1].hotkey", "'K' is already the hotkey of labels[0].")
    ]


def test_multiple_choice_config_takes_min_and_max():
    assert config_problems("multiple_choice", labels("a", min=0, max=1)) == []
    assert config_problems("multiple_choice", labels("a")) == []  # one label is enough here
    assert fields(config_problems("multiple_choice", labels("a", "b", min=-1))) == ["min"]
    assert fields(config_problems("multiple_choice", labels("a", "b", max=True))) == ["max"]
    assert fields(config_problems("multiple_choice", labels("a", "b", min=2, max=1))) == ["max"]
    assert fields(config_problems("multiple_choice", labels("a", "b", max=0))) == ["max"]
    assert fields(config_problems("multiple_choice", labels("a", "b", min=3))) == ["min"]


def test_spans_config_takes_allow_overlap_as_a_boolean():
    assert config_problems("spans", labels("ORG", allow_overlap=True)) == []
    assert fields(config_problems("spans", labels("ORG", allow_overlap="yes"))) == ["allow_overlap"]
    assert fields(config_problems("spans", {"labels": []})) == ["labels"]


def test_preference_config_takes_allow_tie_and_a_reason_mode():
    assert config_problems("preference", {}) == []
    for mode in ("optional", "required", "off"):
        assert config_problems("preference", {"allow_tie": False, "reason": mode}) == []
    assert fields(config_problems("preference", {"allow_tie": "no", "reason": "maybe"})) == [
        "allow_tie",
        "reason",
    ]
    assert fields(config_problems("preference", {"labels": []})) == ["labels"]


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ({}, ["scale"]),
        (scale(1), ["scale"]),
        (scale(1, 2.5), ["scale[1].value"]),
        (scale(1, True), ["scale[1].value"]),
        (scale(1, "2"), ["scale[1].value"]),
        (scale(1, 2, 2), ["scale[2].value"]),
        (scale(1, 3, 2), ["scale[2].value"]),
        ({"scale": [{"value": 1, "hotkey": "1"}, {"value": 2, "hotkey": "1"}]},
         ["scale[1].hotkey"]),
        ({"scale": [{"value": 1, "weight": 2}, {"value": 2}]}, ["scale[0].weight"]),
    ],
)  # fmt: skip
def test_rating_config_problems_name_their_field(config, expected):
    assert fields(config_problems("rating", config)) == expected


def test_a_rating_scale_may_start_below_zero():
    assert config_problems("rating", scale(-2, -1, 0, 1, 2)) == []


# --- values -----------------------------------------------------------------------------------

SINGLE = labels("billing", "shipping")


def test_single_choice_values_keep_their_messages():
    """The messages the import already reports stay as they were."""
    assert value_problems("single_choice", SINGLE, {"label": "billing"}) == []
    assert value_problems("single_choice", SINGLE, {"label": "spam"}) == [
        ("label", "'spam' is not a label of this project (labels: billing, shipping).")
    ]
    assert value_problems("single_choice", SINGLE, {"label": ["billing"]}) == [
        ("label", "['billing'] is not a label of this project (labels: billing, shipping).")
    ]
    assert value_problems("single_choice", SINGLE, {"label": "billing", "x": 1}) == [
        ("", 'must be an object with exactly one key, "label" (found keys: label, x).')
    ]


def test_long_label_lists_are_shortened_in_messages():
    config = labels(*[f"l{i}" for i in range(30)])
    [(_, message)] = value_problems("single_choice", config, {"label": "nope"})
    assert message.endswith("l10, l11, … (30 in all)).")


def test_any_kind_wants_an_object_and_no_schema_keeps_any_object():
    for kind in KINDS:
        assert value_problems(kind, default_config(kind), "x") == [("", "must be a JSON object.")]
    assert value_problems(None, None, {"anything": [1]}, data={"text": ""}) == []


MULTI = labels("toxic", "spam", "off_topic")


@pytest.mark.parametrize(
    ("config", "value", "expected"),
    [
        (MULTI, {"labels": ["toxic", "spam"]}, []),
        (MULTI, {"labels": []}, []),  # none apply
        (MULTI, {"labels": "toxic"}, ["labels"]),
        (MULTI, {"labels": ["toxic", "rude"]}, ["labels[1]"]),
        (MULTI, {"labels": ["toxic", 3]}, ["labels[1]"]),
        (MULTI, {"labels": ["spam", "toxic", "spam"]}, ["labels[2]"]),
        (MULTI, {"label": "toxic"}, [""]),
        ({**MULTI, "min": 1}, {"labels": []}, ["labels"]),
        ({**MULTI, "max": 1}, {"labels": ["toxic", "spam"]}, ["labels"]),
    ],
)
def test_multiple_choice_values(config, value, expected):
    assert fields(value_problems("multiple_choice", config, value)) == expected


def test_multiple_choice_messages_say_what_is_wrong():
    assert value_problems("multiple_choice", MULTI, {"labels": ["spam", "spam"]}) == [
        ("labels[1]", "repeats labels[0] ('spam'); each label may be chosen once.")
    ]
    assert value_problems("multiple_choice", {**MULTI, "min": 2}, {"labels": ["spam"]}) == [
        ("labels", "must hold at least 2 labels (it has 1).")
    ]


NER = labels("PER", "ORG", "LOC")
TEXT = {"text": "Ada Lovelace met Babbage in London."}


def span(start, end, label="PER") -> dict:
    return {"start": start, "end": end, "label": label}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"spans": []}, []),
        ({"spans": [span(0, 12), span(28, 34, "LOC")]}, []),
        ({"spans": [span(28, 34, "LOC"), span(0, 12)]}, []),  # any order
        ({"spans": [span(0, 35)]}, []),  # end is exclusive: the whole text
        ({"spans": [span(0, 36)]}, ["spans[0].end"]),
        ({"spans": [span(5, 5)]}, ["spans[0].end"]),
        ({"spans": [span(6, 2)]}, ["spans[0].end"]),
        ({"spans": [span(-1, 2)]}, ["spans[0].start"]),
        ({"spans": [span(0.0, 2)]}, ["spans[0].start"]),
        ({"spans": [span(0, True)]}, ["spans[0].end"]),
        ({"spans": [span(0, 3, "DATE")]}, ["spans[0].label"]),
        ({"spans": [span(0, 3), {"start": 4, "end": 5}]}, ["spans[1]"]),
        ({"spans": [span(0, 3), {**span(4, 5), "text": "x"}]}, ["spans[1]"]),
        ({"spans": ["0-3"]}, ["spans[0]"]),
        ({"spans": {"start": 0}}, ["spans"]),
        ({"spans": [], "text": "x"}, [""]),
        ({"spans": [span(0, 12), span(4, 12, "ORG"), span(17, 24)]}, ["spans[1]"]),
        ({"spans": [span(0, 12), span(17, 24), span(2, 30, "ORG")]}, ["spans[2]", "spans[1]"]),
    ],
)
def test_span_values(value, expected):
    assert fields(value_problems("spans", NER, value, data=TEXT)) == expected


def test_span_overlaps_name_both_spans():
    value = {"spans": [span(10, 20), span(0, 12, "ORG")]}
    assert value_problems("spans", NER, value) == [
        ("spans[0]", "overlaps spans[1]; this schema does not allow overlapping spans.")
    ]


def test_touching_spans_do_not_overlap():
    assert value_problems("spans", NER, {"spans": [span(0, 3), span(3, 12)]}) == []


def test_overlaps_are_allowed_when_the_schema_says_so_but_not_repeats():
    config = {**NER, "allow_overlap": True}
    nested = {"spans": [span(0, 12), span(4, 12, "ORG")]}
    assert value_problems("spans", config, nested, data=TEXT) == []
    repeated = {"spans": [span(0, 12), span(17, 24), span(0, 12)]}
    assert value_problems("spans", config, repeated) == [("spans[2]", "repeats spans[0].")]


def test_span_offsets_count_code_points_not_bytes_or_utf16_units():
    data = {"text": "😀 Zoë"}  # 5 code points, 9 UTF-8 bytes, 6 UTF-16 units
    assert value_problems("spans", NER, {"spans": [span(2, 5)]}, data=data) == []
    assert fields(value_problems("spans", NER, {"spans": [span(2, 6)]}, data=data)) == [
        "spans[0].end"
    ]


def test_span_bounds_are_checked_only_when_the_item_is_given():
    value = {"spans": [span(0, 500)]}
    assert value_problems("spans", NER, value) == []
    assert value_problems("spans", NER, value, data={"text": "Short."}) == [
        ("spans[0].end", "is past the end of the text (6 characters, counted in Unicode code "
                         "points).")
    ]  # fmt: skip
    assert value_problems("spans", NER, {"spans": []}, data={"prompt": "x"}) == [
        ("spans", 'the item has no "text" to mark spans in.')
    ]


def test_many_bad_spans_are_reported_up_to_a_limit():
    value = {"spans": [span(i, i + 1, "DATE") for i in range(50)]}
    problems = value_problems("spans", NER, value)
    assert len(problems) == 21
    assert problems[-1] == ("spans", "… and 30 more problems.")


PAIR = {"prompt": "Hi", "response_a": "Hello!", "response_b": "Hey."}


@pytest.mark.parametrize(
    ("config", "value", "expected"),
    [
        ({}, {"choice": "A"}, []),
        ({}, {"choice": "tie", "reason": "Both fine."}, []),
        ({}, {"choice": "B", "reason": None}, []),
        ({}, {"choice": "a"}, ["choice"]),
        ({}, {"choice": ["A"]}, ["choice"]),
        ({}, {"reason": "x"}, [""]),
        ({}, {"choice": "A", "order": "BA"}, [""]),
        ({"allow_tie": False}, {"choice": "tie"}, ["choice"]),
        ({}, {"choice": "A", "reason": "x" * 2000}, []),
        ({}, {"choice": "A", "reason": "x" * 2001}, ["reason"]),
        ({}, {"choice": "A", "reason": 5}, ["reason"]),
        ({"reason": "required"}, {"choice": "A"}, ["reason"]),
        ({"reason": "required"}, {"choice": "A", "reason": "  "}, ["reason"]),
        ({"reason": "required"}, {"choice": "A", "reason": "Clearer."}, []),
        ({"reason": "off"}, {"choice": "A", "reason": "Clearer."}, ["reason"]),
        ({"reason": "off"}, {"choice": "A", "reason": ""}, []),
    ],
)
def test_preference_values(config, value, expected):
    assert fields(value_problems("preference", config, value, data=PAIR)) == expected


def test_a_preference_needs_an_item_with_two_responses():
    assert value_problems("preference", {}, {"choice": "A"}, data={"text": "x"}) == [
        ("", 'the item has no "response_a" and "response_b" to choose between.')
    ]
    assert value_problems("preference", {}, {"choice": "A"}) == []


FIVE = default_config("rating")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"rating": 1}, []),
        ({"rating": 5}, []),
        ({"rating": 0}, ["rating"]),
        ({"rating": 4.0}, ["rating"]),
        ({"rating": "4"}, ["rating"]),
        ({"rating": True}, ["rating"]),
        ({"rating": 4, "comment": "ok"}, [""]),
    ],
)
def test_rating_values(value, expected):
    assert fields(value_problems("rating", FIVE, value)) == expected


def test_rating_message_lists_the_scale():
    assert value_problems("rating", FIVE, {"rating": 9}) == [
        ("rating", "must be a point of the scale (1, 2, 3, 4, 5); found 9.")
    ]


def test_value_problems_keeps_its_old_call():
    """Callers that pass (kind, config, value) positionally keep working."""
    assert value_problems("single_choice", SINGLE, {"label": "billing"}) == []
    assert value_problems("spans", NER, {"spans": [span(0, 99)]}) == []


# --- buttons ----------------------------------------------------------------------------------


def test_label_choices_fill_in_text_and_keep_order():
    config = {"labels": [
        {"value": "b", "text": "Bee", "hotkey": "2", "color": "#00aa00", "description": "Buzz."},
        {"value": "a"},
    ]}  # fmt: skip
    assert label_choices("single_choice", config) == [
        Choice("b", "Bee", "2", "#00aa00", "Buzz."),
        Choice("a", "a", "", "", ""),
    ]


def test_rating_choices_follow_the_scale():
    choices = label_choices("rating", FIVE)
    assert [c.value for c in choices] == [1, 2, 3, 4, 5]
    assert [c.hotkey for c in choices] == ["1", "2", "3", "4", "5"]
    assert choices[0].text == "Very poor"


def test_preference_choices_are_a_b_and_tie_when_allowed():
    assert [c.value for c in label_choices("preference", {})] == ["A", "B", "tie"]
    assert [c.value for c in label_choices("preference", {"allow_tie": False})] == ["A", "B"]


def test_label_choices_leave_out_what_they_cannot_read():
    unreadable = {"value": "ok", "hotkey": "12", "color": "javascript:1", "description": 3}
    config = {"labels": ["x", {"text": "no value"}, unreadable]}
    assert label_choices("spans", config) == [Choice("ok", "ok", "", "", "")]
    assert label_choices("spans", None) == []
    assert label_choices("rating", {"scale": "1-5"}) == []


# --- orphans ----------------------------------------------------------------------------------


def used(*pairs) -> list[dict]:
    return [{"value": value, "n": n} for value, n in pairs]


def test_removing_a_used_label_names_it_and_its_count():
    old, new = labels("ham", "spam", "eggs"), labels("ham", "eggs")
    rows = used(({"label": "spam"}, 12), ({"label": "ham"}, 3))
    assert orphaned_values("single_choice", old, new, rows) == [
        "label 'spam' is used by 12 annotations"
    ]


def test_adding_labels_or_changing_their_looks_is_allowed():
    old = labels("ham", "spam")
    new = {"labels": [{"value": "ham", "text": "Ham", "color": "#123456"}, {"value": "spam"},
                      {"value": "eggs"}]}  # fmt: skip
    rows = used(({"label": "spam"}, 12), ({"label": "ham"}, 3))
    assert orphaned_values("single_choice", old, new, rows) == []


def test_removing_an_unused_label_is_allowed():
    rows = used(({"label": "ham"}, 3))
    assert orphaned_values("single_choice", labels("ham", "spam"), labels("ham", "x"), rows) == []


def test_changing_the_kind_with_annotations_is_refused_and_without_is_allowed():
    rows = used(({"label": "ham"}, 1), ({"label": "spam"}, 2))
    assert orphaned_values("rating", SINGLE, FIVE, rows, old_kind="single_choice") == [
        "the kind cannot change from single choice to rating while 3 annotations exist: none of "
        "their values would fit"  # the page adds the full stop, as to every other reason
    ]
    assert orphaned_values("rating", SINGLE, FIVE, [], old_kind="single_choice") == []


def test_multiple_choice_and_span_labels_count_annotations_not_uses():
    rows = used(({"labels": ["a", "b"]}, 2), ({"labels": ["b"]}, 1), ({"labels": []}, 4))
    assert orphaned_values("multiple_choice", labels("a", "b"), labels("a"), rows) == [
        "label 'b' is used by 3 annotations"
    ]
    spans = {"spans": [span(0, 3, "PER"), span(5, 8, "PER"), span(9, 12, "ORG")]}
    assert orphaned_values("spans", NER, labels("LOC"), used((spans, 1))) == [
        "label 'ORG' is used by 1 annotation",
        "label 'PER' is used by 1 annotation",
    ]


def test_other_settings_that_would_orphan_values_are_named():
    rows = used(({"labels": ["a"]}, 2), ({"labels": ["a", "b", "c"]}, 1))
    assert orphaned_values("multiple_choice", labels("a", "b", "c"),
                           labels("a", "b", "c", min=2, max=2), rows) == [
        "2 annotations have fewer than 2 labels, the new minimum",
        "1 annotation has more than 2 labels, the new maximum",
    ]  # fmt: skip
    nested = used(({"spans": [span(0, 12), span(4, 12, "ORG")]}, 5))
    assert orphaned_values("spans", {**NER, "allow_overlap": True}, NER, nested) == [
        "5 annotations have overlapping spans, which the schema would no longer allow"
    ]
    rows = used(({"choice": "tie"}, 4), ({"choice": "A", "reason": "Clear."}, 1))
    assert orphaned_values("preference", {}, {"allow_tie": False, "reason": "off"}, rows) == [
        "choice 'tie' is used by 4 annotations",
        "1 annotation has a reason, which the schema would no longer take",
    ]
    assert orphaned_values("preference", {}, {"reason": "required"}, rows) == [
        "4 annotations have no reason, which the schema would now require"
    ]
    assert orphaned_values("rating", FIVE, scale(1, 2, 3, 4), used(({"rating": 5}, 7))) == [
        "point 5 of the scale is used by 7 annotations"
    ]


def test_values_that_never_fitted_are_not_blamed_on_the_change():
    rows = used(({"label": "typo"}, 2))
    assert orphaned_values("single_choice", labels("a", "b"), labels("a", "c"), rows) == []


def test_a_first_schema_is_checked_against_every_value_kept_so_far():
    rows = used(({"label": "spam"}, 2), ({"rating": 3}, 1), ({"label": "ham"}, 5))
    assert orphaned_values("single_choice", None, labels("ham", "eggs"), rows) == [
        "label 'spam' is used by 2 annotations",
        '1 annotation would no longer fit (must be an object with exactly one key, "label" '
        "(found keys: rating).)",
    ]


def test_rows_without_a_count_count_once():
    rows = [{"value": {"label": "spam"}}, {"value": {"label": "spam"}}]
    assert orphaned_values("single_choice", labels("billing", "spam"), SINGLE, rows) == [
        "label 'spam' is used by 2 annotations"
    ]


LABEL_POOL = ["a", "b", "c", "d"]


@given(
    old=st.sets(st.sampled_from(LABEL_POOL), min_size=1),
    new=st.sets(st.sampled_from(LABEL_POOL), min_size=1),
    values=st.lists(st.sets(st.sampled_from(LABEL_POOL)), max_size=6),
    low=st.integers(0, 2),
    high=st.one_of(st.none(), st.integers(2, 4)),
)
def test_a_change_without_orphans_keeps_every_value_that_fitted(old, new, values, low, high):
    """Whatever orphaned_values lets through, every value that fitted before still fits."""
    old_config = labels(*sorted(old))
    new_config = labels(*sorted(new), min=min(low, len(new)), **({"max": high} if high else {}))
    rows = used(*(({"labels": sorted(v)}, 1) for v in values))
    if orphaned_values("multiple_choice", old_config, new_config, rows):
        return
    for row in rows:
        if not value_problems("multiple_choice", old_config, row["value"]):
            assert value_problems("multiple_choice", new_config, row["value"]) == []


@pytest.mark.parametrize(
    ("kind", "value", "field"),
    [
        ("preference", {"choice": "A", "reason": "fine\x00"}, "reason"),
        ("preference", {"choice": "A", "reason": "half a pair \ud800"}, "reason"),
        (None, {"note": ["ok", {"deep": "\x00"}]}, "note[1].deep"),
        (None, {"ke\x00y": 1}, "ke\x00y"),
    ],
)
def test_text_that_cannot_be_stored_is_refused_with_its_field(kind, value, field):
    """PostgreSQL's JSON refuses NUL characters and UTF-8 has no lone surrogates: such a value is
    a 400 naming where it is, not a database error."""
    config = {"reason": "optional"} if kind else None
    problems = value_problems(kind, config, value)
    assert [f for f, _ in problems] == [field]
    assert "cannot be stored" in problems[0][1] or "not valid Unicode" in problems[0][1]
