"""The dashboard's SVG charts: geometry from plain data, drawn by partials that escape every label
and never write NaN, None or inline style into the markup."""

import math
import re
import xml.etree.ElementTree as ET

import pytest
from django.template.loader import render_to_string
from django.utils import translation

from adjudication import charts

SVG = "{http://www.w3.org/2000/svg}"
SCRIPT = "<script>alert(1)</script>"
ATTRIBUTE = '" onmouseover="x'


def render(kind, chart):
    return render_to_string(f"adjudication/charts/{kind}.html", {"chart": chart})


def parse(kind, chart):
    return ET.fromstring(render(kind, chart))


def titles(element):
    return [t.text for t in element.iter(f"{SVG}title")]


def sample_heatmap(names=("ann", "ben", "cho"), href="/projects/demo/items/?pair=1"):
    cells = {}
    for i, row in enumerate(names):
        for j, col in enumerate(names):
            if i != j:
                cells[(row, col)] = {"value": 0.5 - 0.25 * (i - j), "n": 40, "href": href}
    return charts.heatmap(list(names), list(names), cells)


def sample_bars(**kwargs):
    entries = [
        {"label": "billing", "value": 0.85, "n": 40, "href": "/projects/demo/items/?label=1"},
        {"label": "refund", "value": 0.7, "n": 31, "href": None},
        {"label": "spam", "value": -0.4, "n": 12, "href": None},
        {"label": "other", "value": None, "n": 1, "href": None},
    ]
    return charts.bars(entries, **kwargs)


def sample_trend():
    values = [(0.5, (0.4, 0.6)), (0.6, (0.5, 0.7)), (None, None), (0.85, (0.8, 0.9)), (0.9, None)]
    points = [
        {"label": f"batch {i}", "value": v, "n": 10, "ci": ci} for i, (v, ci) in enumerate(values)
    ]
    return charts.trend(points)


SAMPLES = {"heatmap": sample_heatmap, "bars": sample_bars, "trend": sample_trend}


# --- band -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1.0, "good"),
        (0.8, "good"),
        (0.7999999999999, "good"),
        (0.79, "tentative"),
        (0.667, "tentative"),
        (0.666, "poor"),
        (-0.5, "poor"),
        (None, "undefined"),
        (math.nan, "undefined"),
        (math.inf, "undefined"),
    ],
)
def test_band_follows_krippendorffs_thresholds_by_default(value, expected):
    assert charts.band(value, None, None) == expected


def test_band_follows_the_projects_own_thresholds():
    assert charts.band(0.75, 0.7, 0.5) == "good"
    assert charts.band(0.6, 0.7, 0.5) == "tentative"
    assert charts.band(0.4, 0.7, 0.5) == "poor"


# --- geometry -------------------------------------------------------------------------------------


def test_bar_widths_are_proportional_to_their_values():
    chart = charts.bars([{"label": str(v), "value": v, "n": 5} for v in (0.2, 0.4, 0.8)])
    widths = [bar["width"] for bar in chart["bars"]]
    assert widths[1] == pytest.approx(2 * widths[0], abs=0.02)
    assert widths[2] == pytest.approx(4 * widths[0], abs=0.02)
    assert all(bar["x"] == chart["zero_x"] for bar in chart["bars"])


def test_negative_bar_ends_at_the_zero_line_and_extends_left():
    chart = sample_bars()
    spam = chart["bars"][2]
    assert chart["zero_x"] > chart["plot"]["left"]
    assert spam["x"] < chart["zero_x"]
    assert spam["x"] + spam["width"] == pytest.approx(chart["zero_x"], abs=0.02)
    positive = chart["bars"][0]
    assert positive["x"] == chart["zero_x"]
    # The figure of a negative bar sits right of the zero line, clear of the labels.
    assert spam["text_x"] > chart["zero_x"]


def test_the_axis_widens_to_take_in_values_below_low():
    chart = charts.bars([{"label": "a", "value": -0.4, "n": 3}])
    assert chart["ticks"][0]["text"] == "-0.5"
    assert chart["ticks"][-1]["text"] == "1"


def test_threshold_lines_sit_at_their_values():
    chart = sample_bars(threshold=0.8, tentative=0.6)
    left, right = chart["plot"]["left"], chart["plot"]["right"]
    # The axis runs from -0.5 to 1 because of the negative bar.
    expected = {"good": 0.8, "tentative": 0.6}
    for line in chart["thresholds"]:
        share = (expected[line["kind"]] + 0.5) / 1.5
        assert line["x"] == pytest.approx(left + share * (right - left), abs=0.02)


def test_threshold_lines_default_to_krippendorffs_figures():
    chart = charts.bars([{"label": "a", "value": 0.5, "n": 3}])
    assert {line["kind"]: line["text"] for line in chart["thresholds"]} == {
        "good": "0.8",
        "tentative": "0.667",
    }
    left, right = chart["plot"]["left"], chart["plot"]["right"]
    assert chart["thresholds"][0]["x"] == pytest.approx(left + 0.8 * (right - left), abs=0.02)


def test_bars_are_coloured_by_band():
    bands = [bar["band"] for bar in sample_bars()["bars"]]
    assert bands == ["good", "tentative", "poor", "undefined"]


def test_trend_breaks_its_line_where_a_value_is_missing():
    chart = charts.trend(
        [
            {"label": str(i), "value": v, "n": 5, "ci": None}
            for i, v in enumerate([0.5, 0.6, None, 0.7, 0.8])
        ]
    )
    assert len(chart["lines"]) == 2
    assert all(len(line.split()) == 2 for line in chart["lines"])


def test_trend_draws_a_band_over_runs_of_intervals_and_a_whisker_for_a_lone_one():
    chart = sample_trend()
    assert len(chart["ci_bands"]) == 1
    assert len(chart["ci_bands"][0].split()) == 4
    assert len(chart["ci_whiskers"]) == 1


def test_trend_threshold_lines_are_higher_for_higher_values():
    chart = sample_trend()
    lines = {line["kind"]: line["y"] for line in chart["thresholds"]}
    top, bottom = chart["plot"]["top"], chart["plot"]["bottom"]
    assert lines["good"] == pytest.approx(bottom - 0.8 * (bottom - top), abs=0.02)
    assert top < lines["good"] < lines["tentative"] < bottom


def test_heatmap_uses_a_diverging_scale_around_zero():
    cells = {("a", "b"): {"value": 1.0}, ("a", "c"): {"value": 0.0}, ("a", "d"): {"value": -1.0}}
    chart = charts.heatmap(["a"], ["b", "c", "d"], cells)
    fills = [cell["fill"] for cell in chart["cells"]]
    assert fills == [charts.POSITIVE, charts.NEUTRAL, charts.NEGATIVE]


def test_heatmap_leaves_missing_cells_blank_and_greys_undefined_ones():
    cells = {("a", "b"): {"value": None, "n": 2}}
    chart = charts.heatmap(["a", "b"], ["a", "b"], cells)
    (cell,) = chart["cells"]
    assert cell["fill"] == charts.BAND_FILL["undefined"]
    assert "undefined" in cell["title"]
    assert "n = 2" in cell["title"]


def test_long_names_are_truncated_with_the_full_name_in_the_title():
    name = "dimitra.konstantinopoulou"
    chart = sample_heatmap(names=("ann", name))
    label = chart["row_labels"][1]
    assert label["text"].endswith("…") and len(label["text"]) < len(name)
    assert label["title"] == name


def test_cell_labels_show_two_decimals_and_titles_three():
    chart = charts.heatmap(["a"], ["b"], {("a", "b"): {"value": 0.71234, "n": 9}})
    (cell,) = chart["cells"]
    assert cell["text"] == "0.71"
    assert cell["title"] == "a × b: 0.712 (n = 9)"


def test_a_figure_that_rounds_to_zero_never_reads_minus_zero():
    chart = charts.bars([{"label": "a", "value": -0.0001, "n": 3}])
    assert chart["bars"][0]["text"] == "0.00"


# --- rendering ------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", SAMPLES)
def test_each_chart_renders_as_an_accessible_svg_that_parses_as_xml(kind):
    root = parse(kind, SAMPLES[kind]())
    assert root.tag == f"{SVG}svg"
    assert root.get("role") == "img"
    assert root.get("aria-label")
    assert root.get("viewBox").startswith("0 0 640 ")


@pytest.mark.parametrize("kind", SAMPLES)
def test_no_chart_writes_inline_style(kind):
    html = render(kind, SAMPLES[kind]())
    assert not re.search(r"\sstyle=", html)  # presentation attributes like font-style are fine
    assert "<style" not in html
    assert "<script" not in html


def test_undefined_figures_never_reach_an_attribute_as_nan_or_none():
    nan, inf = math.nan, math.inf
    rendered = {
        "heatmap": charts.heatmap(
            ["a", "b"],
            ["a", "b"],
            {("a", "b"): {"value": nan, "n": 0}, ("b", "a"): {"value": None, "n": None}},
        ),
        "bars": charts.bars(
            [{"label": "a", "value": v, "n": 0} for v in (None, nan, inf, -inf)],
            threshold=None,
        ),
        "trend": charts.trend(
            [
                {"label": "a", "value": None, "n": 0, "ci": (nan, 0.5)},
                {"label": "b", "value": nan, "n": 0, "ci": None},
                {"label": "c", "value": 0.5, "n": 3, "ci": (None, inf)},
            ]
        ),
    }
    for kind, chart in rendered.items():
        for element in parse(kind, chart).iter():
            for name, value in element.attrib.items():
                assert not re.search(r"\b(nan|none|inf|infinity)\b", value, re.I), (kind, name)
                assert value != "", (kind, name)


def test_a_bar_chart_of_undefined_figures_shows_grey_stubs_that_say_so():
    chart = charts.bars([{"label": "a", "value": None, "n": 0}])
    root = parse("bars", chart)
    bar = next(g for g in root.iter(f"{SVG}g") if "chart-bar" in g.get("class", ""))
    assert bar.find(f"{SVG}rect").get("fill") == charts.BAND_FILL["undefined"]
    assert bar.find(f"{SVG}text").text == "undefined"
    assert "undefined" in bar.find(f"{SVG}title").text


def hostile_charts():
    names = [SCRIPT, ATTRIBUTE]
    cells = {(SCRIPT, ATTRIBUTE): {"value": 0.5, "n": 3, "href": "/items/?q=1&r=2"}}
    return {
        "heatmap": charts.heatmap(names, names, cells, title=SCRIPT),
        "bars": charts.bars(
            [{"label": name, "value": 0.5, "n": 3} for name in names], title=ATTRIBUTE
        ),
        "trend": charts.trend(
            [{"label": name, "value": 0.5, "n": 3, "ci": None} for name in names], title=SCRIPT
        ),
    }


@pytest.mark.parametrize("kind", SAMPLES)
def test_labels_are_escaped_into_text_and_never_become_markup(kind):
    chart = hostile_charts()[kind]
    html = render(kind, chart)
    assert "<script>" not in html
    assert 'onmouseover="' not in html
    assert "&lt;script&gt;" in html
    assert "&quot; onmouseover=&quot;x" in html
    root = ET.fromstring(html)
    assert not [e for e in root.iter() if any(a.startswith("on") for a in e.attrib)]
    assert not list(root.iter(f"{SVG}script"))
    # The full labels come back out as text, as written.
    texts = titles(root) + [root.get("aria-label")]
    assert any(SCRIPT in text for text in texts)
    assert any(ATTRIBUTE in text for text in texts)


def test_bars_and_cells_link_to_their_items_when_given_an_href():
    root = parse("bars", sample_bars())
    links = list(root.iter(f"{SVG}a"))
    assert [a.get("href") for a in links] == ["/projects/demo/items/?label=1"]
    assert links[0].find(f".//{SVG}rect") is not None
    assert "billing: 0.850 (n = 40)" in titles(links[0])

    root = parse("heatmap", sample_heatmap())
    links = list(root.iter(f"{SVG}a"))
    assert len(links) == 6
    assert all(a.get("href") == "/projects/demo/items/?pair=1" for a in links)


def test_an_href_that_leaves_the_site_is_dropped():
    entries = [
        {"label": "a", "value": 0.5, "n": 3, "href": "javascript:alert(1)"},
        {"label": "b", "value": 0.5, "n": 3, "href": " javascript:alert(1)"},
        {"label": "c", "value": 0.5, "n": 3, "href": "https://evil.example/"},
        {"label": "d", "value": 0.5, "n": 3, "href": "//evil.example/"},
    ]
    chart = charts.bars(entries)
    assert [bar["href"] for bar in chart["bars"]] == [None] * 4
    assert list(parse("bars", chart).iter(f"{SVG}a")) == []


def test_an_href_is_escaped_in_the_attribute():
    cells = {("a", "b"): {"value": 0.5, "n": 3, "href": '/items/?q="x"&r=<y>'}}
    html = render("heatmap", charts.heatmap(["a"], ["b"], cells))
    assert 'href="/items/?q=&quot;x&quot;&amp;r=&lt;y&gt;"' in html


@pytest.mark.parametrize("kind", SAMPLES)
def test_every_mark_carries_a_title_with_its_figure(kind):
    root = parse(kind, SAMPLES[kind]())
    marks = [
        g
        for g in root.iter(f"{SVG}g")
        if {"chart-cell", "chart-bar", "chart-point"} & set(g.get("class", "").split())
    ]
    assert marks
    for mark in marks:
        title = mark.find(f"{SVG}title").text
        assert re.search(r": (-?\d\.\d{3}|undefined) \(n = \d+\)", title), title


@pytest.mark.parametrize("kind", SAMPLES)
def test_coordinates_keep_their_decimal_point_in_any_language(kind):
    chart = SAMPLES[kind]()
    english = render(kind, chart)
    with translation.override("de"):
        assert render(kind, chart) == english


@pytest.mark.parametrize(
    ("kind", "chart"),
    [
        ("heatmap", charts.heatmap([], [], {})),
        ("bars", charts.bars([])),
        ("trend", charts.trend([])),
    ],
)
def test_empty_input_renders_a_friendly_note_instead_of_a_chart(kind, chart):
    html = render(kind, chart)
    root = ET.fromstring(html)
    assert root.tag == "p"
    assert root.text == "No agreement figures yet."


def test_a_large_matrix_drops_cell_text_but_keeps_the_titles():
    names = [f"annotator-{i}" for i in range(30)]
    cells = {(r, c): {"value": 0.5, "n": 3} for r in names for c in names if r != c}
    chart = charts.heatmap(names, names, cells)
    assert all(cell["text"] == "" for cell in chart["cells"])
    root = parse("heatmap", chart)
    assert len([t for t in titles(root) if "0.500" in t]) == 30 * 29
