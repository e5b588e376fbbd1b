"""Items reached by id (the API's /items/{id}/ routes), scoped to the caller's memberships.

The rule is curation.access's (AUTHZ-1): a user who is not a member of the item's project gets
404, as if the item did not exist, and a member below the needed role gets 403. Staff flags grant
nothing; only a membership does.
"""

from django.core.exceptions import PermissionDenied
from django.db.models import F
from django.http import Http404

from curation.models import ROLE_RANK, Item, Role


def item_for_member(*, user, item_id: int, role: str = Role.ANNOTATOR) -> Item:
    """The item `item_id` with its project, if `user` holds at least `role` in that project.

    One query. The project carries `my_role`, as `curation.access.project_for_member` gives it.
    """
    if not user.is_authenticated or not user.is_active:
        raise Http404("No such item.")
    item = (
        Item.objects.filter(project__memberships__user=user, pk=item_id)
        .annotate(my_role=F("project__memberships__role"))
        .select_related("project")
        .first()
    )
    if item is None:
        raise Http404("No such item.")
    item.project.my_role = item.my_role
    if ROLE_RANK[item.my_role] < ROLE_RANK[role]:
        raise PermissionDenied(f"This needs the {Role(role).label.lower()} role in the project.")
    return item
