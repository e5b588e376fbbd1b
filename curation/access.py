"""The one place that scopes project data to the requesting user (AUTHZ-1).

Every view, API view and selector reaches a project through `project_for_member`, so a user who
is not a member gets 404 (existence is not revealed) and a member whose role is too low gets 403.
Staff and superuser flags grant no data access: only a membership does (AUTHZ-6).
"""

from django.core.exceptions import PermissionDenied
from django.db.models import F, QuerySet
from django.http import Http404

from curation import rows
from curation.models import ROLE_RANK, Project, Role


def projects_for(*, user) -> QuerySet[Project]:
    """The projects `user` is a member of, each annotated with `my_role`."""
    if not user.is_authenticated or not user.is_active:
        return Project.objects.none()
    return Project.objects.filter(memberships__user=user).annotate(my_role=F("memberships__role"))


_PROJECT_OF_MEMBER = f"""
    SELECT {rows.columns(Project, "p")}, m.role
    FROM curation_project p JOIN curation_membership m ON m.project_id = p.id
    WHERE p.slug = %s AND m.user_id = %s"""  # noqa: S608 - column names only


def project_for_member(*, user, slug: str, role: str = Role.ANNOTATOR) -> Project:
    """The project `slug` if `user` holds at least `role` in it: 404 for non-members, 403 below.
    One query, written out: it runs on nearly every request."""
    if not user.is_authenticated or not user.is_active:
        raise Http404("No such project.")
    with rows.cursor() as cursor:
        cursor.execute(_PROJECT_OF_MEMBER, [slug, user.pk])
        row = cursor.fetchone()
    if row is None:
        raise Http404("No such project.")
    project = rows.instance(Project, row[:-1])
    project.my_role = row[-1]
    if ROLE_RANK[project.my_role] < ROLE_RANK[role]:
        raise PermissionDenied(f"This needs the {Role(role).label.lower()} role in the project.")
    return project


def has_role(project: Project, role: str) -> bool:
    """Whether the role `project` was fetched with (via `projects_for`) includes `role`."""
    return ROLE_RANK[project.my_role] >= ROLE_RANK[role]


def can_create_projects(user) -> bool:
    return user.is_authenticated and user.has_perm("curation.add_project")
