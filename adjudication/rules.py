"""The project rule that decides, once an item has its full overlap, whether its annotations
settle it or a reviewer must (pure: no ORM).

Values are compared by their canonical keys (annotation.exporting.canonical), so two labels are
the same when their JSON is. Agreement is the share of annotator pairs that gave the same value.
"""

from collections.abc import Sequence
from typing import NamedTuple

from annotation.exporting import verdict

ANY_DISAGREEMENT = "any_disagreement"
NO_MAJORITY = "no_majority"
BELOW_THRESHOLD = "below_threshold"


class Outcome(NamedTuple):
    waiting: bool  # a reviewer must decide
    index: int | None  # which of the values is final (None while waiting)
    rule: str  # "unanimous" or "majority" when settled, "" while waiting
    agreement: float | None  # share of agreeing annotator pairs (None under two values)


def settle(keys: Sequence, *, rule: str, item_threshold: float = 0.67) -> Outcome:
    """The outcome for one complete item, whose annotations have the canonical `keys`.

    any_disagreement: only unanimous items settle. no_majority: unanimous items and items where
    one value has more than half the votes settle. below_threshold: an item settles when one
    value has a majority and the share of agreeing pairs reaches `item_threshold`. One
    annotation alone is unanimous.
    """
    found, index, agreement = verdict(keys)
    if found == "unanimous":
        return Outcome(False, 0, "unanimous", agreement)
    settled = found == "majority" and (
        rule == NO_MAJORITY
        or (rule == BELOW_THRESHOLD and agreement is not None and agreement >= item_threshold)
    )
    if settled:
        return Outcome(False, index, "majority", agreement)
    return Outcome(True, None, "", agreement)
