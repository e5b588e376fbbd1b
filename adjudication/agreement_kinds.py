"""Agreement for each kind of label (pure: no ORM).

`kind_records` turns stored annotation values into hashable records (item, annotator, value);
the functions below take those records and return `Stat`s from `adjudication.agreement`:

  multiple choice  `multiple_choice_alpha`: alpha per label (present/absent) and MASI alpha
  spans            `span_f1` (pairwise F1) and `span_token_alpha` (alpha over whitespace tokens)
  preference       `preference_agreement`: alpha on A/B/tie and agreement on A vs B
  rating           `rating_agreement`: ordinal (or interval) alpha and weighted kappa

They run in a background job over up to 100,000 items x 3 annotators, so the per-record work is
a dict lookup or two; per-label and per-token alpha sum over units directly instead of expanding
into one record per label or token.
"""

from bisect import bisect_right, insort
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from itertools import combinations
from typing import NamedTuple

import numpy as np

from adjudication.agreement import (
    NO_EXPECTED,
    NO_PAIRS,
    ONE_CATEGORY,
    Stat,
    alpha,
    pairwise_kappa,
    percent_agreement,
)

OUTSIDE = "O"  # the category of a token no span covers
CHUNK_POINTS = 1_000_000  # code points of text per chunk of span_token_alpha
CHOICES = frozenset({"A", "B", "tie"})
# Every code point for which str.isspace() is true, so tokens are exactly what str.split() gives.
WHITESPACE = (9, 10, 11, 12, 13, 28, 29, 30, 31, 32, 133, 160, 5760, *range(8192, 8203),
              8232, 8233, 8239, 8287, 12288)  # fmt: skip
_IS_SPACE = np.zeros(WHITESPACE[-1] + 2, dtype=bool)  # last entry: "any code point above"
_IS_SPACE[list(WHITESPACE)] = True


# --- records -------------------------------------------------------------------------------------


class KindRecords(NamedTuple):
    records: list[tuple]  # (item, annotator, hashable value)
    skipped: int  # rows whose stored value could not be read


def _is_int(x) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _label(value):
    label = value.get("label")
    return label if isinstance(label, str) else None


def _labels(value):
    labels = value.get("labels")
    if not isinstance(labels, list) or not all(isinstance(label, str) for label in labels):
        return None
    return frozenset(labels)


def _spans(value):
    spans = value.get("spans")
    if not isinstance(spans, list):
        return None
    out = []
    for span in spans:
        if not isinstance(span, dict):
            return None
        start, end, label = span.get("start"), span.get("end"), span.get("label")
        if not (_is_int(start) and _is_int(end) and 0 <= start < end and isinstance(label, str)):
            return None
        out.append((start, end, label))
    return frozenset(out)


def _choice(value):
    choice = value.get("choice")
    return choice if isinstance(choice, str) and choice in CHOICES else None


def _rating(value):
    rating = value.get("rating")
    return rating if _is_int(rating) else None


READERS: dict[str, Callable] = {
    "single_choice": _label,
    "multiple_choice": _labels,
    "spans": _spans,
    "preference": _choice,
    "rating": _rating,
}


def kind_records(kind: str, rows: Iterable[tuple]) -> KindRecords:
    """Turns (item, annotator, value_dict) rows into the records the statistics take.

    The value becomes: single choice, the label (str); multiple choice, a frozenset of labels
    (empty when none apply); spans, a frozenset of (start, end, label) tuples; preference, "A",
    "B" or "tie" (the reason is dropped); rating, the point (int). A value that cannot be read
    (not a dict, a key missing, a wrong type, a span with end <= start) is skipped and counted
    in `skipped`, never raised: old rows may predate a schema change. Labels and points are not
    checked against the schema here; `rating_agreement` drops points off its scale.
    """
    read = READERS[kind]  # an unknown kind is a programming error: KeyError
    records, skipped = [], 0
    for item, annotator, value in rows:
        parsed = read(value) if isinstance(value, dict) else None
        if parsed is None:
            skipped += 1
        else:
            records.append((item, annotator, parsed))
    return KindRecords(records, skipped)


def _by_item(records: Iterable[tuple]) -> dict:
    """{item: {annotator: value}}; a repeated (item, annotator) keeps its last value."""
    items: dict = defaultdict(dict)
    for item, annotator, value in records:
        items[item][annotator] = value
    return items


def _order_key(annotator) -> tuple:
    """The order `pairwise_kappa` lists annotators in, so pairs line up across statistics."""
    return (str(annotator), type(annotator).__name__)


def _nominal_alpha(units: int, disagreement: float, totals, detail: dict) -> Stat:
    """Nominal alpha from sums over the `units` pairable units (units with 2 or more values).

    Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", section C: with m_u values
    in unit u, n_uc of them c, n = sum m_u and n_c = sum n_uc, alpha = 1 - (n - 1) D / E where
    D = sum_u (m_u^2 - sum_c n_uc^2) / (m_u - 1) and E = n^2 - sum_c n_c^2. `totals` are the
    n_c. As in `alpha`, `n` of the Stat counts the pairable units.
    """
    totals = np.asarray(totals, dtype=float)
    if not units:
        return Stat(value=None, n=0, reason=NO_PAIRS, detail=detail)
    if np.count_nonzero(totals) < 2:
        return Stat(value=None, n=units, reason=ONE_CATEGORY, detail=detail)
    n = float(totals.sum())
    expected = n * n - float(np.square(totals).sum())
    if not expected > 0:
        return Stat(value=None, n=units, reason=NO_EXPECTED, detail=detail)
    return Stat(value=1.0 - (n - 1) * disagreement / expected, n=units, detail=detail)


# --- multiple choice -----------------------------------------------------------------------------


def masi_distance(a: frozenset, b: frozenset) -> float:
    """1 - MASI: Passonneau (2006), "Measuring agreement on set-valued items (MASI) for semantic
    and pragmatic annotation". MASI = J x M, J the Jaccard coefficient and M (monotonicity) 1
    when the sets are equal, 2/3 when one contains the other, 1/3 when they only overlap and 0
    when they are disjoint. Two empty sets agree (distance 0).
    """
    if a == b:
        return 0.0
    shared = len(a & b)
    if not shared:
        return 1.0
    monotonicity = 2 / 3 if shared in (len(a), len(b)) else 1 / 3  # subset, else only overlap
    return 1.0 - shared / (len(a) + len(b) - shared) * monotonicity


def multiple_choice_alpha(records: Iterable[tuple], labels: Iterable[str]) -> dict:
    """{"per_label": {label: Stat}, "masi": Stat} for records whose values are frozensets.

    Per label: nominal alpha on present/absent. Every annotator who annotated an item said yes
    or no to every label, so units are items, and labels found in the data but not in `labels`
    are reported too. MASI: alpha with `masi_distance` between whole sets.
    """
    records = list(records)
    items = _by_item(records)
    n, units, present, disagreement = 0, 0, Counter(), Counter()
    for coded in items.values():
        m = len(coded)
        if m < 2:
            continue
        n += m
        units += 1
        for label, k in Counter(label for value in coded.values() for label in value).items():
            present[label] += k
            disagreement[label] += 2 * k * (m - k) / (m - 1)
    names = list(dict.fromkeys(labels))
    names += sorted(set(present) - set(names))
    per_label = {}
    for label in names:
        k = present[label]
        if units and k in (0, n):
            who = "no annotator" if k == 0 else "every annotator"
            reason = f"{who} chose {label!r} on the items two or more annotated"
            per_label[label] = Stat(value=None, n=units, reason=reason, detail={"present": k})
            continue
        per_label[label] = _nominal_alpha(units, disagreement[label], [k, n - k], {"present": k})
    return {"per_label": per_label, "masi": alpha(records, distance=masi_distance)}


# --- spans ---------------------------------------------------------------------------------------


def _overlap_matches(a: frozenset, b: frozenset) -> int:
    """Most pairs of same-label overlapping spans, each span in at most one pair.

    Greedy is optimal here: take a's spans by end; give each the unmatched b span that overlaps
    it and ends first. (If an optimal matching pairs a1-b2 and a2-b1 instead, with a1 and b1
    ending first, then a2 and b2 overlap too, so swapping loses nothing.)
    """
    by_label: dict[str, list] = defaultdict(list)
    for start, end, label in b:
        by_label[label].append((start, end))
    theirs_by_label = {label: sorted(spans) for label, spans in by_label.items()}
    mine_by_label: dict[str, list] = defaultdict(list)
    for start, end, label in a:
        mine_by_label[label].append((end, start))
    matched = 0
    for label, mine in mine_by_label.items():
        theirs = theirs_by_label.get(label, [])
        open_ends: list[int] = []  # ends of b spans starting before the current a span ends
        j = 0
        for end, start in sorted(mine):
            while j < len(theirs) and theirs[j][0] < end:
                insort(open_ends, theirs[j][1])
                j += 1
            k = bisect_right(open_ends, start)  # the first b span ending after this one starts
            if k < len(open_ends):
                del open_ends[k]
                matched += 1
    return matched


def span_f1(records: Iterable[tuple], *, match: str = "exact") -> Stat:
    """Pairwise F1 between annotators' spans, averaged over annotator pairs.

    Records are (item, annotator, frozenset of (start, end, label)). For each pair, over the items
    both annotated, F1 = 2 x matched / (spans of a + spans of b): Hripcsak & Rothschild (2005),
    "Agreement, the F-measure, and reliability in information retrieval" (JAMIA 12(3)) show this
    is the positive specific agreement, symmetric in a and b, and the limit of kappa when the
    negatives (spans nobody marked) are too many to count. `match="exact"` pairs spans with the
    same start, end and label; `"overlap"` pairs spans with the same label whose ranges overlap,
    each span at most once. A pair with no spans on their shared items has no F1 and is left out
    of the mean. `detail["pairs"]` holds {"a", "b", "shared", "matched", "a_spans", "b_spans",
    "f1"} per pair; `n` counts the pairs in the mean.
    """
    if match not in ("exact", "overlap"):
        raise ValueError(f'match must be "exact" or "overlap", not {match!r}.')
    totals: dict[tuple, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for coded in _by_item(records).values():
        for a, b in combinations(sorted(coded, key=_order_key), 2):
            mine, theirs = coded[a], coded[b]
            if match == "exact" or mine == theirs or not (mine and theirs):
                found = len(mine & theirs)
            else:
                found = _overlap_matches(mine, theirs)
            total = totals[a, b]
            total[0] += 1
            total[1] += found
            total[2] += len(mine)
            total[3] += len(theirs)
    pairs = []
    for (a, b), (shared, matched, a_spans, b_spans) in sorted(
        totals.items(), key=lambda entry: (_order_key(entry[0][0]), _order_key(entry[0][1]))
    ):
        f1 = 2 * matched / (a_spans + b_spans) if a_spans + b_spans else None
        pairs.append({"a": a, "b": b, "shared": shared, "matched": matched, "a_spans": a_spans,
                      "b_spans": b_spans, "f1": f1})  # fmt: skip
    scores = [pair["f1"] for pair in pairs if pair["f1"] is not None]
    detail = {"match": match, "pairs": pairs}
    if not scores:
        reason = NO_PAIRS if not pairs else "no two annotators marked spans on a shared item"
        return Stat(value=None, n=0, reason=reason, detail=detail)
    return Stat(value=sum(scores) / len(scores), n=len(scores), detail=detail)


def whitespace_tokens(text: str) -> tuple[np.ndarray, np.ndarray]:
    """(starts, ends) code-point offsets of the tokens of `text`, ends exclusive.

    A token is a maximal run of non-whitespace code points: the pieces `text.split()` returns,
    so "New York-based!" is two tokens, "New" and "York-based!".
    """
    points = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype="<u4")
    space = _IS_SPACE[np.minimum(points, len(_IS_SPACE) - 1)]
    edges = np.diff(np.concatenate(([True], space, [True])).view(np.int8))
    return np.flatnonzero(edges == -1), np.flatnonzero(edges == 1)


def _ranges(offsets: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """offsets[j], offsets[j] + 1, ..., offsets[j] + lengths[j] - 1 for every j, concatenated."""
    ends = np.cumsum(lengths)
    return np.repeat(offsets - (ends - lengths), lengths) + np.arange(ends[-1] if len(ends) else 0)


def _paint(chunk: list, codes: dict, layout: dict) -> np.ndarray:
    """Every row's token codes (0 = outside), rows laid end to end as in `layout`.

    A span covers the tokens it shares a code point with. Where spans of one row overlap, the one
    starting first wins, then the longer, then the label listed first: each token keeps the best
    rank among the spans covering it (`np.minimum.at` is defined for repeated positions).
    """
    rows, starts, ends, labels = [], [], [], []
    for row, spans in enumerate(spans for _, coded in chunk for spans in coded):
        if spans:
            begin, end, label = zip(*spans, strict=True)
            rows += [row] * len(spans)
            starts += begin
            ends += end
            labels += map(codes.__getitem__, label)
    grid = np.zeros(layout["size"], dtype=np.int32)
    if not rows:
        return grid
    row, code = np.array(rows), np.array(labels)
    item = layout["row_item"][row]
    start = np.maximum(np.array(starts), 0)
    end = np.minimum(np.array(ends), layout["lengths"][item])
    first = np.searchsorted(layout["ends"], layout["bases"][item] + start, side="right")
    last = np.searchsorted(layout["starts"], layout["bases"][item] + end, side="left")
    length = np.maximum(last - first, 0)
    order = np.lexsort((code, -end, start, row))
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    best = np.full(layout["size"], len(order), dtype=np.int64)
    offsets = layout["row_offset"][row] + first - layout["first_token"][item]
    np.minimum.at(best, _ranges(offsets, length), np.repeat(rank, length))
    return np.append(code[order], 0).astype(np.int32)[best]


def _row_pairs(sizes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each pair of rows of one item (items' rows consecutive, `sizes` per item), weighted
    1 / (m - 1) as pairs are in the coincidence matrix."""
    pairs = []
    first = 0
    for m in sizes.tolist():
        pairs += [(first + r, first + s, 1 / (m - 1)) for r, s in combinations(range(m), 2)]
        first += m
    left, right, weight = zip(*pairs, strict=True)
    return np.array(left), np.array(right), np.array(weight)


def _chunks(entries: list, budget: int):
    """`entries` (text, rows) in consecutive lists of about `budget` code points of text."""
    chunk, size = [], 0
    for entry in entries:
        chunk.append(entry)
        size += len(entry[0]) + 1
        if size >= budget:
            yield chunk
            chunk, size = [], 0
    if chunk:
        yield chunk


def _token_chunk(chunk: list, codes: dict, categories: int) -> tuple[int, int, float, np.ndarray]:
    """(units, items with tokens, D, category totals) for a chunk of (text, {annotator: spans}).

    The texts are joined with newlines and tokenized at once; row r (one annotator of one item)
    takes the slice row_offset[r] : row_offset[r] + its item's token count of one flat grid.
    """
    lengths = np.array([len(text) for text, _ in chunk])
    bases = np.cumsum(lengths + 1) - (lengths + 1)
    starts, ends = whitespace_tokens("\n".join(text for text, _ in chunk))
    first_token = np.searchsorted(starts, bases)
    counts = np.diff(np.append(first_token, len(starts)))
    sizes = np.array([len(coded) for _, coded in chunk])
    row_item = np.repeat(np.arange(len(chunk)), sizes)
    row_length = counts[row_item]
    row_offset = np.cumsum(row_length) - row_length
    layout = {"size": int(row_length.sum()), "row_item": row_item, "row_offset": row_offset,
              "lengths": lengths, "bases": bases, "starts": starts, "ends": ends,
              "first_token": first_token}  # fmt: skip
    grid = _paint(chunk, codes, layout)
    left, right, weight = _row_pairs(sizes)
    span = row_length[left]
    agree = grid[_ranges(row_offset[left], span)] == grid[_ranges(row_offset[right], span)]
    # Per item, sum_u (m^2 - sum_c n_uc^2) / (m - 1) = m T - 2 (agreeing pairs) / (m - 1).
    disagreement = layout["size"] - 2 * float(np.repeat(weight, span) @ agree)
    totals = np.bincount(grid, minlength=categories)
    return int(counts.sum()), int(np.count_nonzero(counts)), disagreement, totals


def span_token_alpha(records: Iterable[tuple], texts: dict, labels: Iterable[str]) -> Stat:
    """Nominal alpha over tokens: each token takes the label of the span covering it, or "O".

    Records are (item, annotator, frozenset of (start, end, label)); `texts` is {item: text}.
    Texts are split on whitespace (`whitespace_tokens`) and units are (item, token index), every
    annotator of an item coding all its tokens (see `_paint` for overlapping spans). Items
    missing from `texts`, without tokens or with one annotator add no units and are counted in
    `detail`. Items are handled a chunk of about CHUNK_POINTS code points at a time, so memory
    stays flat and the numpy calls are per chunk, not per item.
    """
    items = _by_item(records)
    names = list(dict.fromkeys(labels))
    found = {span[2] for coded in items.values() for spans in coded.values() for span in spans}
    names += sorted(found - set(names))
    codes = {label: i for i, label in enumerate(names, start=1)}
    entries = []
    for item, coded in items.items():
        text = texts.get(item)
        if len(coded) >= 2 and isinstance(text, str):
            entries.append((text, list(coded.values())))
    parts = [_token_chunk(chunk, codes, len(names) + 1) for chunk in _chunks(entries, CHUNK_POINTS)]
    units = sum(part[0] for part in parts)
    used = sum(part[1] for part in parts)
    disagreement = sum(part[2] for part in parts)
    totals = sum((part[3] for part in parts), np.zeros(len(names) + 1, dtype=np.int64))
    skipped = len(items) - used
    detail = {"items": used, "skipped_items": skipped, "categories": [OUTSIDE, *names],
              "counts": totals.tolist()}  # fmt: skip
    return _nominal_alpha(units, disagreement, totals, detail)


# --- preference and rating -----------------------------------------------------------------------


def preference_agreement(records: Iterable[tuple]) -> dict:
    """{"alpha", "ab_agreement", "ties"} for records whose values are "A", "B" or "tie".

    "alpha" is nominal alpha on the three choices. "ab_agreement" drops the ties and gives
    `percent_agreement` on A vs B: the share of an item's annotator pairs that agree, averaged
    over items left with two or more values. "ties" is the share of values that are ties (None
    when there are no records).
    """
    records = list(records)
    ties = sum(1 for record in records if record[2] == "tie")
    return {
        "alpha": alpha(records, level="nominal"),
        "ab_agreement": percent_agreement([record for record in records if record[2] != "tie"]),
        "ties": ties / len(records) if records else None,
    }


def rating_agreement(records: Iterable[tuple], scale: list[int], level: str = "ordinal") -> dict:
    """{"alpha", "kappa_linear", "kappa_quadratic", "off_scale"} for integer ratings.

    `scale` is the ordered list of points (`point_values(config)`). "alpha" is ordinal alpha, or
    interval alpha with `level="interval"`; the kappas are pairwise weighted kappa lists with
    weights by position on the scale. Values not on the scale are dropped and counted in
    "off_scale".
    """
    if level not in ("ordinal", "interval"):
        raise ValueError(f'level must be "ordinal" or "interval", not {level!r}.')
    points = set(scale)
    records = list(records)
    kept = [record for record in records if record[2] in points]
    order = list(scale)
    return {
        "alpha": alpha(kept, level=level, order=order),
        "kappa_linear": pairwise_kappa(kept, weights="linear", order=order),
        "kappa_quadratic": pairwise_kappa(kept, weights="quadratic", order=order),
        "off_scale": len(records) - len(kept),
    }
