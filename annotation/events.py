"""Signals the annotation app sends for the apps above it (adjudication listens).

`annotations_changed` is sent after annotations of some items were created or changed (a submit,
an edit of one's own label, an import), inside the writer's transaction when it has one, with
`project` and `item_ids`, and optionally `complete_item_ids`: those of them the sender knows now
hold all their annotations (a submit knows from the item's counter), which spares receivers a
query when there are none. Receivers must be quick for a few ids and defer large lists to a job.

The commonest submit, a new annotation that completes no item, is stored on PostgreSQL by one
statement outside a transaction (annotation.fastpath.annotation_store_quick), which sends no
signal: a receiver that connects with `when_stored=<SQL>` has that SQL run inside the statement
instead. It must do what the receiver does for such a submit (`complete_item_ids` empty), be a
data-modifying statement (UPDATE, INSERT or DELETE) that takes no parameters but `%(now)s`, and
find the annotation in the CTE `stored` (project_id, annotation_id, item_id), which holds one row
when it was stored and none otherwise. While any receiver has no such SQL, every submit takes the
path that sends the signal.
"""

from django.dispatch import Signal
from django.dispatch.dispatcher import _make_id


class _StatementSignal(Signal):
    """A Signal whose receivers may also give the SQL that does their work for a quick submit."""

    def __init__(self):
        super().__init__()
        self._when_stored: dict[object, str] = {}

    def connect(self, receiver, sender=None, weak=True, dispatch_uid=None, *, when_stored=None):
        super().connect(receiver, sender=sender, weak=weak, dispatch_uid=dispatch_uid)
        if when_stored is not None:  # the key Signal files the receiver under
            key = (dispatch_uid or _make_id(receiver), _make_id(sender))
            self._when_stored[key] = when_stored

    def disconnect(self, receiver=None, sender=None, dispatch_uid=None):
        found = super().disconnect(receiver, sender=sender, dispatch_uid=dispatch_uid)
        live = {entry[0] for entry in self.receivers}
        self._when_stored = {k: v for k, v in self._when_stored.items() if k in live}
        return found

    def when_stored(self) -> tuple[str, ...] | None:
        """The receivers' SQL for a quick submit, in the order they connected; None when one of
        them gave none (the signal must then be sent)."""
        found = []
        for key, *_ in self.receivers:
            if key not in self._when_stored:
                return None
            found.append(self._when_stored[key])
        return tuple(found)


annotations_changed = _StatementSignal()
