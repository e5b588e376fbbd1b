"""curation.access and curation.permissions called directly: the checks every view leans on hold
on their own, also for callers that reach them without a signed-in, active user (AUTHZ-1,
AUTHZ-6). The route-level view of the same rules is tests/test_authz_matrix.py."""

from types import SimpleNamespace

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser, Permission
from django.core.exceptions import PermissionDenied
from django.http import Http404
from rest_framework.test import APIRequestFactory

from curation.access import can_create_projects, has_role, project_for_member, projects_for
from curation.models import Role
from curation.permissions import CanCreateProjectsOnPost, HasProjectRole


def deactivated(user):
    user.is_active = False
    user.save(update_fields=["is_active"])
    return user


def test_an_anonymous_user_has_no_projects(team):
    assert list(projects_for(user=AnonymousUser())) == []


def test_a_deactivated_member_has_no_projects_and_gets_404(team):
    lead = deactivated(team.lead)
    assert list(projects_for(user=lead)) == []
    with pytest.raises(Http404):
        project_for_member(user=lead, slug=team.project.slug)


def test_an_anonymous_user_gets_404_without_a_query(team, django_assert_num_queries):
    with django_assert_num_queries(0), pytest.raises(Http404):
        project_for_member(user=AnonymousUser(), slug=team.project.slug)


def test_projects_for_gives_each_project_with_the_members_role(team):
    projects = list(projects_for(user=team.reviewer))
    assert [(p.slug, p.my_role) for p in projects] == [(team.project.slug, Role.REVIEWER)]
    assert has_role(projects[0], Role.ANNOTATOR) and has_role(projects[0], Role.REVIEWER)
    assert not has_role(projects[0], Role.LEAD)


def test_a_member_below_the_role_gets_403_and_at_it_the_project(team):
    with pytest.raises(PermissionDenied, match="This needs the lead role in the project."):
        project_for_member(user=team.reviewer, slug=team.project.slug, role=Role.LEAD)
    project = project_for_member(user=team.reviewer, slug=team.project.slug, role=Role.REVIEWER)
    assert (project.pk, project.my_role) == (team.project.pk, Role.REVIEWER)


def test_the_lead_of_another_project_gets_404_not_403(team):
    with pytest.raises(Http404):
        project_for_member(user=team.other_lead, slug=team.project.slug, role=Role.LEAD)


def test_has_project_role_needs_the_role_the_view_names_for_the_method(team):
    view = SimpleNamespace(kwargs={"slug": team.project.slug}, project_roles={"POST": Role.LEAD})
    request = APIRequestFactory().post("/")
    request.user = team.annotator
    with pytest.raises(PermissionDenied):
        HasProjectRole().has_permission(request, view)
    request = APIRequestFactory().get("/")  # unnamed methods need membership only
    request.user = team.annotator
    assert HasProjectRole().has_permission(request, view)
    assert view.project.my_role == Role.ANNOTATOR


def test_only_posts_need_the_add_project_permission(team):
    permission, view = CanCreateProjectsOnPost(), SimpleNamespace()
    post, get = APIRequestFactory().post("/"), APIRequestFactory().get("/")
    post.user = get.user = team.lead
    assert not can_create_projects(team.lead)
    assert not permission.has_permission(post, view)
    assert permission.has_permission(get, view)
    team.lead.user_permissions.add(Permission.objects.get(codename="add_project"))
    post.user = get_user_model().objects.get(
        pk=team.lead.pk
    )  # a fresh object: permissions are cached
    assert permission.has_permission(post, view)
    post.user = AnonymousUser()
    assert not permission.has_permission(post, view)
