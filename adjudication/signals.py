"""Keeps reviews and agreement figures in step with the annotations below them.

The annotation app cannot call this one (imports run one way), so it sends
`annotations_changed`; a few items (a submit, an edit) are settled or queued at once, a large
batch (an import) by the agreement job, which also brings the figures up to date.
"""

from django.db.models.signals import post_save, pre_save
from django.dispatch import receiver

from adjudication.services import MARK_STALE_WHEN_STORED, agreement_mark_stale, reviews_refresh
from annotation.events import annotations_changed
from curation.jobs import job_run_start
from curation.models import Project

AT_ONCE = 50  # items settled in the request; more go to the job


@receiver(annotations_changed, when_stored=MARK_STALE_WHEN_STORED)
def _annotations_changed(sender, project: Project, item_ids: list[int],
                         complete_item_ids: list[int] | None = None, **kwargs):  # fmt: skip
    if complete_item_ids is not None:  # the sender knows which are complete: most submits none
        if complete_item_ids:  # marking the figures stale in the same statement as a read
            reviews_refresh(project=project, item_ids=complete_item_ids, complete=True,
                            mark_stale=True)  # fmt: skip
        else:
            agreement_mark_stale(project=project)
        return
    agreement_mark_stale(project=project)
    if len(item_ids) <= AT_ONCE:
        reviews_refresh(project=project, item_ids=item_ids)
    else:
        job_run_start(project=project, kind="agreement")


@receiver(pre_save, sender=Project)
def _remember_overlap(sender, instance: Project, **kwargs):
    if instance.pk:
        old = Project.objects.filter(pk=instance.pk).values_list("annotators_per_item", flat=True)
        instance._review_overlap = old.first()


@receiver(post_save, sender=Project)
def _overlap_changed(sender, instance: Project, created: bool, **kwargs):
    """Items that a lower overlap makes complete get settled or queued by the job."""
    previous = getattr(instance, "_review_overlap", None)
    if not created and previous is not None and previous != instance.annotators_per_item:
        agreement_mark_stale(project=instance)
        job_run_start(project=instance, kind="agreement")
