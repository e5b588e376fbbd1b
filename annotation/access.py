"""Items reached by id (the API's /items/{id}/ routes), scoped to the caller's memberships.

The rule is curation.access's (AUTHZ-1): a user who is not a member of the item's project gets
404, as if the item did not exist, and a member below the needed role gets 403. Staff flags grant
nothing; only a membership does.
"""

from django.core.exceptions import PermissionDenied
from django.http import Http404

from curation import rows
from curation.models import ROLE_RANK, Item, Project, Role

_ITEM_OF_MEMBER = f"""
    SELECT {rows.columns(Item, "i")}, {rows.columns(Project, "p")}, m.role
    FROM curation_item i
    JOIN curation_project p ON p.id = i.project_id
    JOIN curation_membership m ON m.project_id = p.id
    WHERE i.id = %s AND m.user_id = %s"""  # noqa: S608 - column names only


def item_for_member(*, user, item_id: int, role: str = Role.ANNOTATOR) -> Item:
    """The item `item_id` with its project, if `user` holds at least `role` in that project.

    One query, written out: it runs on every submit. The project carries `my_role`, as
    `curation.access.project_for_member` gives it.
    """
    if not user.is_authenticated or not user.is_active or not 0 < item_id <= rows.BIGINT_MAX:
        raise Http404("No such item.")
    with rows.cursor() as cursor:
        cursor.execute(_ITEM_OF_MEMBER, [item_id, user.pk])
        row = cursor.fetchone()
    if row is None:
        raise Http404("No such item.")
    split = rows.width(Item)
    item = rows.instance(Item, row[:split])
    item.project = rows.instance(Project, row[split:-1])
    item.project.my_role = row[-1]
    if ROLE_RANK[item.project.my_role] < ROLE_RANK[role]:
        raise PermissionDenied(f"This needs the {Role(role).label.lower()} role in the project.")
    return item
