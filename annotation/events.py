"""Signals the annotation app sends for the apps above it (adjudication listens).

`annotations_changed` is sent after annotations of some items were created or changed (a submit,
an edit of one's own label, an import), inside the writer's transaction when it has one, with
`project` and `item_ids`, and optionally `complete_item_ids`: those of them the sender knows now
hold all their annotations (a submit knows from the item's counter), which spares receivers a
query when there are none. Receivers must be quick for a few ids and defer large lists to a job.
"""

from django.dispatch import Signal

annotations_changed = Signal()
