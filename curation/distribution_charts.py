"""Geometry for the distribution page's SVG charts, computed from plain data.

Each function returns numbers, colours and short labels that a partial in
templates/curation/distribution/ draws with autoescaped values: no markup is built here, so no
category name can inject any. Coordinates live in a viewBox of fixed width; the height follows
the number of rows and the SVG scales with its container. Colours are Okabe–Ito (told apart
with any common colour-vision deficiency); each bar also carries its figure as text.
"""

WIDTH = 640
LEFT = 168  # category labels
RIGHT = 96  # figures after the longest bar
TOP = 8
ROW = 26
BAR = 16
PAIR_ROW = 40
PAIR_BAR = 14
FONT_SIZE = 12
LABEL_CHARS = 22
MAX_BARS = 30

INK = "#1d2125"
MUTED = "#5c6670"
GRID = "#e3e7eb"
DATASET = {"fill": "#0072b2", "stroke": "#004c77"}  # Okabe-Ito blue
REFERENCE = {"fill": "#e69f00", "stroke": "#8a5a00"}  # Okabe-Ito orange


def _short(text: str, limit: int = LABEL_CHARS) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _percent(share: float) -> str:
    return f"{share * 100:.1f}%"


def _r(value: float) -> float:
    return round(value, 2)


def _ticks(high: float, y: float) -> list[dict]:
    """Four gridlines from 0 to `high` (a share), labelled in percent."""
    span = WIDTH - LEFT - RIGHT
    return [
        {"x": _r(LEFT + span * k / 4), "text": f"{high * k / 4 * 100:.0f}%", "y": y}
        for k in range(5)
    ]


def _top(high: float) -> float:
    """An axis end a little above `high`, on a round percentage (at most 100%)."""
    for step in (0.05, 0.1, 0.2, 0.25, 0.5, 1.0):
        if high <= step:
            return step
    return 1.0


def share_bars(entries: list[dict], *, title: str) -> dict:
    """Horizontal bars of shares, one per {"label", "count", "share"}, in the given order; at
    most 30 (the table beside the chart has them all)."""
    shown = entries[:MAX_BARS]
    if not shown:
        return {"empty": True, "title": title, "empty_text": "Nothing to draw."}
    high = _top(max(e["share"] for e in shown))
    span = WIDTH - LEFT - RIGHT
    bottom = TOP + len(shown) * ROW
    bars = []
    for i, entry in enumerate(shown):
        top = TOP + i * ROW
        width = _r(span * entry["share"] / high)
        figure = f"{entry['count']:,} ({_percent(entry['share'])})"
        bars.append(
            {
                "label": _short(entry["label"]),
                "full_label": str(entry["label"]),
                "label_x": LEFT - 8,
                "y": _r(top + (ROW - BAR) / 2),
                "text_y": _r(top + ROW / 2),
                "x": LEFT,
                "width": width,
                "height": BAR,
                "text": figure,
                "text_x": _r(LEFT + width + 6),
                "title": f"{entry['label']}: {figure}",
            }
        )
    return {
        "empty": False,
        "title": title,
        "label": f"{title}: {len(entries)} categories"
        + (f", the {MAX_BARS} largest drawn" if len(entries) > MAX_BARS else "")
        + ".",
        "viewbox": f"0 0 {WIDTH} {bottom + 28}",
        "font_size": FONT_SIZE,
        "colours": {"ink": INK, "muted": MUTED, "grid": GRID, **{"bar": DATASET}},
        "bars": bars,
        "top": TOP,
        "bottom": bottom,
        "ticks": _ticks(high, bottom + 18),
    }


def paired_bars(rows: list[dict], *, title: str) -> dict:
    """Two bars per category, the dataset's share above the reference's, for
    {"label", "dataset_share", "reference_share", "flag"} in the given order; at most 30."""
    shown = rows[:MAX_BARS]
    if not shown:
        return {"empty": True, "title": title, "empty_text": "Nothing to compare."}
    high = _top(max(max(r["dataset_share"], r["reference_share"]) for r in shown))
    span = WIDTH - LEFT - RIGHT
    legend_height = 24
    top0 = TOP + legend_height
    bottom = top0 + len(shown) * PAIR_ROW
    groups = []
    for i, row in enumerate(shown):
        top = top0 + i * PAIR_ROW
        flag = {"over": " ▲ over-represented", "under": " ▼ under-represented"}.get(
            row.get("flag", ""), ""
        )
        bars = []
        for k, (key, name, colour) in enumerate(
            (("dataset_share", "dataset", DATASET), ("reference_share", "reference", REFERENCE))
        ):
            y = top + 4 + k * (PAIR_BAR + 2)
            width = _r(span * row[key] / high)
            bars.append(
                {
                    "x": LEFT,
                    "y": _r(y),
                    "width": width,
                    "height": PAIR_BAR,
                    "fill": colour["fill"],
                    "stroke": colour["stroke"],
                    "text": _percent(row[key]),
                    "text_x": _r(LEFT + width + 6),
                    "text_y": _r(y + PAIR_BAR / 2),
                    "title": f"{row['label']}, {name}: {_percent(row[key])}",
                }
            )
        groups.append(
            {
                "label": _short(row["label"]),
                "label_x": LEFT - 8,
                "label_y": _r(top + 4 + PAIR_BAR + 1),
                "flag": row.get("flag", ""),
                "title": f"{row['label']}{flag}",
                "bars": bars,
            }
        )
    return {
        "empty": False,
        "title": title,
        "label": f"{title}: {len(rows)} categories, dataset share beside reference share"
        + (f", the {MAX_BARS} largest differences drawn" if len(rows) > MAX_BARS else "")
        + ".",
        "viewbox": f"0 0 {WIDTH} {bottom + 28}",
        "font_size": FONT_SIZE,
        "colours": {"ink": INK, "muted": MUTED, "grid": GRID},
        "legend": [
            {
                "x": x,
                "y": TOP,
                "text_x": x + 20,
                "text_y": TOP + 7,
                "fill": colour["fill"],
                "stroke": colour["stroke"],
                "text": text,
            }
            for x, colour, text in (
                (LEFT, DATASET, "Dataset"),
                (LEFT + 110, REFERENCE, "Reference"),
            )
        ],
        "legend_y": TOP,
        "groups": groups,
        "top": top0,
        "bottom": bottom,
        "ticks": _ticks(high, bottom + 18),
    }
