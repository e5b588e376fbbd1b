"""annotation.access.item_for_member called directly: an item reached by id is scoped to the
caller's memberships like a project is (AUTHZ-1, AUTHZ-6), with the role checked on the item's
own project. The routes that use it are in tests/test_authz_matrix.py."""

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied
from django.http import Http404

from annotation.access import item_for_member
from curation import rows
from curation.models import Role


def test_a_member_gets_the_item_with_its_project_and_role(team):
    item = team.project.items.order_by("pk").first()
    found = item_for_member(user=team.reviewer, item_id=item.pk, role=Role.REVIEWER)
    assert (found.pk, found.data, found.project.pk) == (item.pk, item.data, team.project.pk)
    assert found.project.my_role == Role.REVIEWER


def test_a_member_below_the_role_gets_403(team):
    item = team.project.items.first()
    with pytest.raises(PermissionDenied, match="This needs the reviewer role in the project."):
        item_for_member(user=team.annotator, item_id=item.pk, role=Role.REVIEWER)
    with pytest.raises(PermissionDenied, match="This needs the lead role in the project."):
        item_for_member(user=team.reviewer, item_id=item.pk, role=Role.LEAD)


def test_the_lead_of_another_project_gets_404_for_its_items(team):
    item = team.project.items.first()
    with pytest.raises(Http404):
        item_for_member(user=team.other_lead, item_id=item.pk)


def test_anonymous_and_deactivated_users_get_404(team):
    item = team.project.items.first()
    with pytest.raises(Http404):
        item_for_member(user=AnonymousUser(), item_id=item.pk)
    team.lead.is_active = False
    team.lead.save(update_fields=["is_active"])
    with pytest.raises(Http404):
        item_for_member(user=team.lead, item_id=item.pk)


@pytest.mark.parametrize("item_id", [0, -1, rows.BIGINT_MAX + 1])
def test_an_id_outside_the_column_gets_404_without_a_query(
    team, item_id, django_assert_num_queries
):
    with django_assert_num_queries(0), pytest.raises(Http404):
        item_for_member(user=team.lead, item_id=item_id)
