"""Geometry for the agreement dashboard's SVG charts, computed from plain data.

Each chart function returns a dict of numbers, colours, short labels, titles and hrefs that a
partial in templates/adjudication/charts/ draws with autoescaped values. No markup is built here,
so no label can inject any. Coordinates live in a viewBox of fixed width (the height follows the
number of rows) and the SVG scales with its container.
"""

import math

from django.utils.http import url_has_allowed_host_and_scheme

# Krippendorff (2004): rely on figures from 0.800, draw tentative conclusions from 0.667.
THRESHOLD = 0.8
TENTATIVE = 0.667
# A figure computed as 0.7999999999 for a true 0.8 must still count as good.
EPSILON = 1e-9

WIDTH = 640
FONT_SIZE = 12
SMALL_FONT_SIZE = 11
NO_DATA = "No agreement figures yet."

# Okabe-Ito blue, orange and vermillion: told apart with any common colour-vision deficiency, and
# by lightness too. The darker stroke keeps each mark at 3:1 or more against white.
BAND_FILL = {"good": "#0072b2", "tentative": "#e69f00", "poor": "#d55e00", "undefined": "#c4c9cf"}
BAND_STROKE = {"good": "#004c77", "tentative": "#8a5a00", "poor": "#8f3f00", "undefined": "#5c6670"}
INK = "#1d2125"
MUTED = "#5c6670"
GRID = "#e3e7eb"
COLOURS = {"ink": INK, "muted": MUTED, "grid": GRID, "line": "#3b4a5a", "surface": "#ffffff"}
# Heatmap scales: orange to blue through near-white (diverging), or near-white to blue.
NEGATIVE, NEUTRAL, POSITIVE = "#b35806", "#f7f7f7", "#2166ac"


def band(
    value: float | None, threshold: float | None = None, tentative: float | None = None
) -> str:
    """The band a figure falls in: "good", "tentative", "poor", or "undefined" for None, NaN or
    infinity. Thresholds left as None are Krippendorff's 0.8 and 0.667."""
    value = _finite(value)
    if value is None:
        return "undefined"
    threshold = THRESHOLD if threshold is None else threshold
    tentative = TENTATIVE if tentative is None else tentative
    if value >= threshold - EPSILON:
        return "good"
    if value >= tentative - EPSILON:
        return "tentative"
    return "poor"


# --- heatmap --------------------------------------------------------------------------------------

HEAT_LEFT = 128  # row labels
HEAT_TOP = 84  # slanted column labels
HEAT_RIGHT = 72  # room for the last slanted label
HEAT_CELL_MAX = 64


def heatmap(
    rows: list[str],
    cols: list[str],
    cells: dict,
    *,
    low: float = -1.0,
    high: float = 1.0,
    title: str = "Pairwise agreement",
) -> dict:
    """A matrix of cells keyed (row, col) -> {"value", "n", "href"}; a missing key (the diagonal,
    say) leaves its square blank, a value of None draws a grey cell titled "undefined"."""
    if high <= low:
        raise ValueError(f"the colour scale needs low < high, not {low} and {high}")
    if not rows or not cols:
        return _empty(title)
    size = min(HEAT_CELL_MAX, (WIDTH - HEAT_LEFT - HEAT_RIGHT) / len(cols))
    drawn = []
    for i, row in enumerate(rows):
        for j, col in enumerate(cols):
            if (row, col) in cells:
                x, y = HEAT_LEFT + j * size, HEAT_TOP + i * size
                drawn.append(_heat_cell(row, col, cells[(row, col)], x, y, size, low, high))
    bottom = HEAT_TOP + len(rows) * size
    return {
        "empty": False,
        "title": title,
        "label": _heat_summary(title, drawn),
        "viewbox": f"0 0 {WIDTH} {_r(bottom + 56)}",
        "colours": COLOURS,
        "font_size": FONT_SIZE,
        "small_font_size": SMALL_FONT_SIZE,
        "cell_font_size": _r(min(13, size * 0.3)),
        "cells": drawn,
        "row_labels": [
            _axis_label(row, HEAT_LEFT - 8, HEAT_TOP + (i + 0.5) * size, limit=16)
            for i, row in enumerate(rows)
        ],
        "col_labels": [
            _axis_label(col, HEAT_LEFT + (j + 0.5) * size, HEAT_TOP - 8, limit=12)
            for j, col in enumerate(cols)
        ],
        "legend": _heat_legend(low, high, bottom + 20),
    }


def _heat_cell(row, col, cell, x, y, size, low, high) -> dict:
    value = _finite(cell.get("value"))
    fill = BAND_FILL["undefined"] if value is None else _heat_fill(value, low, high)
    # Below this size two decimals no longer fit; the title still carries the figure.
    text = ("n/a" if value is None else _fixed(value, 2)) if size >= 24 else ""
    return {
        "x": _r(x),
        "y": _r(y),
        "size": _r(size),
        "fill": fill,
        "text": text,
        "text_fill": _ink_on(fill),
        "text_x": _r(x + size / 2),
        "text_y": _r(y + size / 2),
        "title": _mark_title(f"{row} × {col}", value, cell.get("n")),
        "href": _href(cell.get("href")),
        "value": value,
        "undefined": value is None,
    }


def _heat_summary(title: str, cells: list[dict]) -> str:
    defined = [c for c in cells if not c["undefined"]]
    undefined = len(cells) - len(defined)
    if not defined:
        return f"{title}: no figure defined, {undefined} undefined."
    lowest = min(defined, key=lambda c: c["value"])
    highest = max(defined, key=lambda c: c["value"])
    return (
        f"{title}: {len(defined)} figures from {_fixed(lowest['value'], 2)} to "
        f"{_fixed(highest['value'], 2)}, {undefined} undefined."
    )


def _heat_legend(low: float, high: float, y: float) -> dict:
    steps, step_width = 10, 16
    swatches = [
        {
            "x": HEAT_LEFT + k * step_width,
            "fill": _heat_fill(low + (k + 0.5) * (high - low) / steps, low, high),
        }
        for k in range(steps)
    ]
    ticks = [low, high] + ([0.0] if low < 0 < high else [])
    end = HEAT_LEFT + steps * step_width
    return {
        "y": _r(y),
        "height": 10,
        "step_width": step_width,
        "swatches": swatches,
        "text_y": _r(y + 24),
        "ticks": [
            {"x": _r(HEAT_LEFT + (t - low) / (high - low) * (end - HEAT_LEFT)), "text": _tick(t)}
            for t in sorted(ticks)
        ],
        "undefined_x": end + 24,
        "undefined_fill": BAND_FILL["undefined"],
        "undefined_text_x": end + 24 + step_width + 6,
    }


def _heat_fill(value: float, low: float, high: float) -> str:
    value = min(max(value, low), high)
    if low < 0 < high:
        # Zero is neutral whatever the range, so equal distances from it look equally strong.
        if value < 0:
            return _mix(NEUTRAL, NEGATIVE, value / low)
        return _mix(NEUTRAL, POSITIVE, value / high)
    return _mix(NEUTRAL, POSITIVE, (value - low) / (high - low))


# --- bars -----------------------------------------------------------------------------------------

BAR_LEFT = 168  # labels
BAR_RIGHT = 56  # value text after the longest bar
BAR_TOP = 28  # threshold labels
BAR_ROW = 28
BAR_HEIGHT = 18
BAR_STUB = 8


def bars(
    entries: list[dict],
    *,
    low: float = 0.0,
    high: float = 1.0,
    threshold: float | None = None,
    tentative: float | None = None,
    title: str = "Agreement",
) -> dict:
    """Horizontal bars from a zero line, one per {"label", "value", "n", "href"}, coloured by
    band; the range widens to take in values outside [low, high], negative ones included."""
    if not entries:
        return _empty(title)
    threshold = THRESHOLD if threshold is None else threshold
    tentative = TENTATIVE if tentative is None else tentative
    values = [_finite(e.get("value")) for e in entries]
    low, high, ticks = _axis(low, high, [v for v in values if v is not None])
    plot = {"left": BAR_LEFT, "right": WIDTH - BAR_RIGHT, "top": BAR_TOP}
    plot["bottom"] = BAR_TOP + len(entries) * BAR_ROW
    to_x = _scale(low, high, plot["left"], plot["right"])
    zero_x = to_x(min(max(0.0, low), high))
    drawn = [
        _bar(entry, value, BAR_TOP + i * BAR_ROW, to_x, zero_x, threshold, tentative)
        for i, (entry, value) in enumerate(zip(entries, values, strict=True))
    ]
    good = sum(1 for b in drawn if b["band"] == "good")
    undefined = sum(1 for b in drawn if b["undefined"])
    return {
        "empty": False,
        "title": title,
        "label": f"{title}: {good} of {len(drawn)} at or above {_tick(threshold)}, "
        f"{undefined} undefined.",
        "viewbox": f"0 0 {WIDTH} {plot['bottom'] + 28}",
        "colours": COLOURS,
        "font_size": FONT_SIZE,
        "small_font_size": SMALL_FONT_SIZE,
        "plot": plot,
        "zero_x": zero_x,
        "bars": drawn,
        "ticks": [{"x": to_x(t), "text": _tick(t)} for t in ticks],
        "tick_y": plot["bottom"] + 18,
        "thresholds": _vertical_thresholds(threshold, tentative, low, high, to_x, plot),
    }


def _bar(entry, value, top, to_x, zero_x, threshold, tentative) -> dict:
    label = _clean(entry.get("label"))
    kind = band(value, threshold, tentative)
    if value is None:
        x, width, end = zero_x, BAR_STUB, zero_x + BAR_STUB
    else:
        end = to_x(value)
        x, width = min(zero_x, end), _r(abs(end - zero_x))
    return {
        "label": _axis_label(label, BAR_LEFT - 8, top + BAR_ROW / 2, limit=22),
        "x": x,
        "y": top + (BAR_ROW - BAR_HEIGHT) / 2,
        "width": width,
        "height": BAR_HEIGHT,
        "band": kind,
        "fill": BAND_FILL[kind],
        "stroke": BAND_STROKE[kind],
        "undefined": value is None,
        # After the bar's right end, so a negative bar's figure never runs into the labels.
        "text": "undefined" if value is None else _fixed(value, 2),
        "text_x": _r(max(zero_x, end) + 6),
        "text_y": top + BAR_ROW / 2,
        "title": _mark_title(label, value, entry.get("n")),
        "href": _href(entry.get("href")),
        "value": value,
    }


def _vertical_thresholds(threshold, tentative, low, high, to_x, plot) -> list[dict]:
    # The threshold's label runs right of its line and the tentative one's left, so they never meet.
    nudge = {"good": (3, "start"), "tentative": (-3, "end")}
    return [
        {
            **line,
            "x": to_x(line["value"]),
            "y1": plot["top"] - 6,
            "y2": plot["bottom"],
            "text_x": _r(to_x(line["value"]) + nudge[line["kind"]][0]),
            "text_y": plot["top"] - 10,
            "anchor": nudge[line["kind"]][1],
        }
        for line in _thresholds(threshold, tentative, low, high)
    ]


def _thresholds(threshold: float, tentative: float, low: float, high: float) -> list[dict]:
    """The threshold lines that fall within the axis."""
    lines = [("good", "Reliable", threshold), ("tentative", "Tentative", tentative)]
    return [
        {
            "kind": kind,
            "value": value,
            "text": _tick(value),
            "stroke": BAND_STROKE[kind],
            "title": f"{name} at or above {value:.3f}",
        }
        for kind, name, value in lines
        if low <= value <= high
    ]


# --- trend ----------------------------------------------------------------------------------------

TREND_LEFT = 48
TREND_RIGHT = 24
TREND_TOP = 20
TREND_PLOT_HEIGHT = 200
TREND_MAX_LABELS = 8


def trend(
    points: list[dict],
    *,
    threshold: float | None = None,
    tentative: float | None = None,
    low: float = 0.0,
    high: float = 1.0,
    title: str = "Agreement over time",
) -> dict:
    """A line through {"label", "value", "n", "ci": (lo, hi) | None} in order, broken where a value
    is None, over a shaded confidence band where intervals are given."""
    if not points:
        return _empty(title)
    threshold = THRESHOLD if threshold is None else threshold
    tentative = TENTATIVE if tentative is None else tentative
    values = [_finite(p.get("value")) for p in points]
    intervals = [
        _interval(p.get("ci")) if v is not None else None
        for p, v in zip(points, values, strict=True)
    ]
    bounds = [v for v in values if v is not None] + [b for ci in intervals if ci for b in ci]
    low, high, ticks = _axis(low, high, bounds)
    plot = {"left": TREND_LEFT, "right": WIDTH - TREND_RIGHT, "top": TREND_TOP}
    plot["bottom"] = TREND_TOP + TREND_PLOT_HEIGHT
    step = (plot["right"] - plot["left"]) / len(points)
    xs = [_r(plot["left"] + (i + 0.5) * step) for i in range(len(points))]
    to_y = _scale(high, low, plot["top"], plot["bottom"])
    marks = [
        _trend_mark(p, v, x, to_y, plot["bottom"], threshold, tentative)
        for p, v, x in zip(points, values, xs, strict=True)
    ]
    return {
        "empty": False,
        "title": title,
        "label": _trend_summary(title, marks),
        "viewbox": f"0 0 {WIDTH} {plot['bottom'] + 36}",
        "colours": COLOURS,
        "font_size": FONT_SIZE,
        "small_font_size": SMALL_FONT_SIZE,
        "plot": plot,
        "zero_y": to_y(0.0) if low <= 0 <= high else None,
        "lines": [
            " ".join(f"{m['x']},{m['y']}" for m in run)
            for run in _runs([None if m["undefined"] else m for m in marks])
            if len(run) > 1
        ],
        **_confidence(marks, intervals, to_y),
        "marks": marks,
        "ticks": [{"y": to_y(t), "text": _tick(t)} for t in ticks],
        "tick_x": TREND_LEFT - 6,
        "x_labels": _trend_labels(points, xs, plot["bottom"] + 18),
        "thresholds": _horizontal_thresholds(threshold, tentative, low, high, to_y, plot),
    }


def _trend_mark(point, value, x, to_y, bottom, threshold, tentative) -> dict:
    label = _clean(point.get("label"))
    kind = band(value, threshold, tentative)
    return {
        "x": x,
        # An undefined point sits on the bottom edge, hollow, so the gap reads as missing data.
        "y": bottom if value is None else to_y(value),
        "undefined": value is None,
        "band": kind,
        "fill": COLOURS["surface"] if value is None else BAND_FILL[kind],
        "stroke": BAND_STROKE[kind],
        "title": _mark_title(label, value, point.get("n")) + _ci_text(point, value),
        "href": _href(point.get("href")),
        "value": value,
        "label": label,
    }


def _confidence(marks: list[dict], intervals: list, to_y) -> dict:
    """Polygons over runs of two or more intervals, whiskers for a lone one."""
    spans = [
        {"x": m["x"], "top": to_y(ci[1]), "bottom": to_y(ci[0])} if ci else None
        for m, ci in zip(marks, intervals, strict=True)
    ]
    bands, whiskers = [], []
    for run in _runs(spans):
        if len(run) == 1:
            whiskers.append({"x": run[0]["x"], "y1": run[0]["top"], "y2": run[0]["bottom"]})
        else:
            outline = [(s["x"], s["top"]) for s in run] + [(s["x"], s["bottom"]) for s in run[::-1]]
            bands.append(" ".join(f"{x},{y}" for x, y in outline))
    return {"ci_bands": bands, "ci_whiskers": whiskers, "ci_fill": BAND_FILL["good"]}


def _trend_labels(points: list[dict], xs: list[float], y: float) -> list[dict]:
    every = math.ceil(len(points) / TREND_MAX_LABELS)
    labels = []
    for i in range(0, len(points), every):
        labels.append(_axis_label(_clean(points[i].get("label")), xs[i], y, limit=10))
    return labels


def _trend_summary(title: str, marks: list[dict]) -> str:
    defined = [m for m in marks if not m["undefined"]]
    if not defined:
        return f"{title}: {len(marks)} points, none defined."
    last = defined[-1]
    return (
        f"{title}: {len(marks)} points, {len(marks) - len(defined)} undefined; latest "
        f"{_fixed(last['value'], 2)} ({last['label']})."
    )


def _horizontal_thresholds(threshold, tentative, low, high, to_y, plot) -> list[dict]:
    # The threshold's label sits above its line and the tentative one's below, so they never meet.
    nudge = {"good": -4, "tentative": 12}
    return [
        {
            **line,
            "y": to_y(line["value"]),
            "x1": plot["left"],
            "x2": plot["right"],
            "text_x": plot["left"] + 4,
            "text_y": _r(to_y(line["value"]) + nudge[line["kind"]]),
        }
        for line in _thresholds(threshold, tentative, low, high)
    ]


def _runs(items: list) -> list[list]:
    """Maximal runs of consecutive items that are not None."""
    runs, current = [], []
    for item in items:
        if item is not None:
            current.append(item)
        elif current:
            runs.append(current)
            current = []
    if current:
        runs.append(current)
    return runs


# --- shared ---------------------------------------------------------------------------------------


def _empty(title: str) -> dict:
    return {"empty": True, "title": title, "label": f"{title}: no data.", "empty_text": NO_DATA}


def _finite(value) -> float | None:
    """The figure as a float, or None when it is missing, NaN or infinite."""
    if value is None or isinstance(value, bool):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _interval(ci) -> tuple[float, float] | None:
    if not ci or len(ci) != 2:
        return None
    lo, hi = _finite(ci[0]), _finite(ci[1])
    if lo is None or hi is None:
        return None
    return (min(lo, hi), max(lo, hi))


def _href(href) -> str | None:
    """Only a link within this site: a javascript: or off-site URL is dropped, not drawn."""
    if not href or not isinstance(href, str):
        return None
    return href if url_has_allowed_host_and_scheme(href, allowed_hosts=None) else None


def _clean(text) -> str:
    return " ".join(str(text if text is not None else "").split())


def _axis_label(text: str, x: float, y: float, *, limit: int) -> dict:
    text = _clean(text)
    short = text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
    return {"x": _r(x), "y": _r(y), "text": short, "title": text}


def _mark_title(name: str, value: float | None, n) -> str:
    figure = "undefined" if value is None else _fixed(value, 3)
    return f"{_clean(name)}: {figure} (n = {int(n or 0)})"


def _ci_text(point: dict, value: float | None) -> str:
    ci = _interval(point.get("ci")) if value is not None else None
    return f", CI {_fixed(ci[0], 3)} to {_fixed(ci[1], 3)}" if ci else ""


def _axis(low: float, high: float, values: list[float]) -> tuple[float, float, list[float]]:
    """[low, high] widened to take in every value and out to whole ticks, and the ticks."""
    if values:
        low, high = min(low, min(values)), max(high, max(values))
    if high <= low:
        high = low + 1.0
    raw = (high - low) / 5
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw - EPSILON)
    first = math.floor(low / step + EPSILON)
    last = math.ceil(high / step - EPSILON)
    ticks = [round(k * step, 10) for k in range(first, last + 1)]
    return ticks[0], ticks[-1], ticks


def _scale(d0: float, d1: float, r0: float, r1: float):
    return lambda v: _r(r0 + (v - d0) / (d1 - d0) * (r1 - r0))


def _fixed(value: float, places: int) -> str:
    """The figure to so many decimals, never "-0.00"."""
    text = f"{value:.{places}f}"
    return text[1:] if text.startswith("-") and float(text) == 0 else text


def _tick(value: float) -> str:
    text = f"{value:.3f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _r(value: float) -> float:
    """Two decimals are finer than any screen can show in a 640-unit-wide viewBox."""
    return round(value, 2) + 0.0  # + 0.0 turns -0.0 into 0.0


def _mix(start: str, end: str, t: float) -> str:
    t = min(max(t, 0.0), 1.0)
    a, b = _rgb(start), _rgb(end)
    return "#" + "".join(f"{round(x + (y - x) * t):02x}" for x, y in zip(a, b, strict=True))


def _rgb(colour: str) -> tuple[int, int, int]:
    return tuple(int(colour[i : i + 2], 16) for i in (1, 3, 5))


def _ink_on(fill: str) -> str:
    """Dark or white text, whichever contrasts more with the fill."""
    white = (1.05) / (_luminance(fill) + 0.05)
    dark = (_luminance(fill) + 0.05) / (_luminance(INK) + 0.05)
    return "#ffffff" if white > dark else INK


def _luminance(colour: str) -> float:
    """WCAG 2 relative luminance."""
    channels = [c / 255 for c in _rgb(colour)]
    r, g, b = (c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b
