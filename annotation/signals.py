"""Keeps labeling state right when curation changes a project or its members.

Curation cannot call the annotation app (imports run one way), so the annotation app listens:
a member who leaves gives back their leases at once (AUTHZ-8), and a changed
`annotators_per_item` re-ranks the project's items.
"""

from django.db.models.signals import post_delete, post_save, pre_save
from django.dispatch import receiver

from annotation.services import leases_release_member, project_requeue
from curation.models import Membership, Project


@receiver(post_delete, sender=Membership)
def _member_left(sender, instance: Membership, **kwargs):
    leases_release_member(project=instance.project, user=instance.user)


@receiver(pre_save, sender=Project)
def _remember_overlap(sender, instance: Project, **kwargs):
    if instance.pk:
        old = Project.objects.filter(pk=instance.pk).values_list("annotators_per_item", flat=True)
        instance._previous_overlap = old.first()


@receiver(post_save, sender=Project)
def _overlap_changed(sender, instance: Project, created: bool, **kwargs):
    previous = getattr(instance, "_previous_overlap", None)
    if not created and previous is not None and previous != instance.annotators_per_item:
        project_requeue(project=instance)
