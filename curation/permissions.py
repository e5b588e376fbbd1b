"""DRF permission classes. Project access goes through curation.access, like every other view."""

from rest_framework.permissions import SAFE_METHODS, BasePermission

from curation.access import can_create_projects, project_for_member
from curation.models import Role


class HasProjectRole(BasePermission):
    """Reaches the project named by the URL's `slug` through `project_for_member` (AUTHZ-1).

    The view declares the least role each method needs in `project_roles`; methods it does not
    list need membership only, so a non-member gets 404 whatever the method (existence is not
    revealed) and a member below the role gets 403. The project is kept on `view.project`.
    """

    def has_permission(self, request, view):
        method = "GET" if request.method in SAFE_METHODS else request.method
        role = view.project_roles.get(method, Role.ANNOTATOR)
        view.project = project_for_member(user=request.user, slug=view.kwargs["slug"], role=role)
        return True


class CanCreateProjectsOnPost(BasePermission):
    """POST needs the `curation.add_project` permission; other methods pass through."""

    message = "Your account may not create projects; ask an administrator."

    def has_permission(self, request, view):
        return request.method != "POST" or can_create_projects(request.user)
