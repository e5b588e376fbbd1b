"""The pure rules of assignment (no ORM): how much room an item has and where it queues.

An item needs `annotators_per_item` distinct annotators. Its room is that number minus the
submitted annotations and the live leases (a cap, ASG-1). Items with room are handed out
started ones first, then by priority (higher first), then oldest first; the database keeps the
rank in `Item.queue_rank` so that "next item" is one index scan.
"""

from datetime import datetime, timedelta

FULL, STARTED, NEW = 0, 1, 2
DEFAULT_LEASE = timedelta(minutes=30)


def room(*, capacity: int, annotations: int, leases: int) -> int:
    """How many more annotators may take the item now (never below zero)."""
    return max(0, capacity - annotations - leases)


def queue_rank(*, capacity: int, annotations: int, leases: int, outside: bool = False) -> int:
    """FULL when nobody else may take the item, STARTED when someone has, NEW otherwise. Items
    `outside` the overlap queue are FULL: gold items ("next item" mixes them in on its own) and
    items a lead dropped."""
    if outside or room(capacity=capacity, annotations=annotations, leases=leases) == 0:
        return FULL
    return STARTED if annotations + leases > 0 else NEW


def lease_is_live(expires_at: datetime | None, now: datetime) -> bool:
    return expires_at is not None and expires_at > now


def may_submit(*, capacity: int, annotations: int, leases: int, holds_live_lease: bool) -> bool:
    """A submit is accepted with a live lease (its slot is reserved), or without one only while
    the item still has room for another annotator (ASG-5)."""
    return holds_live_lease or room(capacity=capacity, annotations=annotations, leases=leases) > 0
