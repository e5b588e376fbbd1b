"""Writes to projects, memberships and items. Views, API views and commands all call these."""

import uuid

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction

from curation.hashing import content_hash
from curation.models import AuditEvent, AuditKind, Item, Membership, Project, Role, Split

User = get_user_model()


@transaction.atomic
def project_create(*, user, name: str, slug: str, **fields) -> Project:
    """Creates a project with `user` as its lead. One transaction."""
    project = Project(name=name, slug=slug, created_by=user, **fields)
    project.full_clean()
    project.save()
    Membership.objects.create(user=user, project=project, role=Role.LEAD)
    audit(AuditKind.PROJECT_CREATED, actor=user, project=project)
    return project


def project_update(*, project: Project, **fields) -> Project:
    """Sets the given fields after validating them. Idempotent."""
    for name, value in fields.items():
        setattr(project, name, value)
    project.full_clean()
    project.save()
    return project


def audit(kind: str, *, actor, project: Project, **detail) -> None:
    """Records a security-relevant event of `project` (LOG-1); `detail` holds no item text."""
    AuditEvent.objects.create(kind=kind, actor=actor, project=project, detail=detail)


def _leads_left(project: Project, *, without: Membership) -> int:
    return project.memberships.filter(role=Role.LEAD).exclude(pk=without.pk).count()


@transaction.atomic
def membership_add(*, project: Project, user, role: str, actor=None) -> Membership:
    """Adds `user` to `project` with `role`; a ValidationError if already a member."""
    if role not in Role.values:
        raise ValidationError({"role": f"Unknown role {role!r}; use one of {Role.values}."})
    if not user.is_active:
        raise ValidationError({"username": f"User {user.username} is deactivated."})
    if Membership.objects.filter(project=project, user=user).exists():
        raise ValidationError({"username": f"{user.username} is already a member."})
    membership = Membership.objects.create(project=project, user=user, role=role)
    audit(AuditKind.MEMBER_ADDED, actor=actor, project=project, user=user.username, role=role)
    return membership


@transaction.atomic
def membership_change_role(*, membership: Membership, role: str, actor=None) -> Membership:
    """Changes a member's role, refusing to leave the project without a lead."""
    if role not in Role.values:
        raise ValidationError({"role": f"Unknown role {role!r}; use one of {Role.values}."})
    locked = Membership.objects.select_for_update().get(pk=membership.pk)
    if (
        locked.role == Role.LEAD
        and role != Role.LEAD
        and not _leads_left(locked.project, without=locked)
    ):
        raise ValidationError({"role": "A project needs at least one lead."})
    before, locked.role = locked.role, role
    locked.save(update_fields=["role"])
    audit(
        AuditKind.MEMBER_ROLE_CHANGED,
        actor=actor,
        project=locked.project,
        user=locked.user.username,
        before=before,
        after=role,
    )
    return locked


@transaction.atomic
def membership_remove(*, membership: Membership, actor=None) -> None:
    """Removes a member (access ends on their next request); refuses to remove the last lead."""
    locked = Membership.objects.select_for_update().get(pk=membership.pk)
    if locked.role == Role.LEAD and not _leads_left(locked.project, without=locked):
        raise ValidationError({"username": "A project needs at least one lead."})
    audit(
        AuditKind.MEMBER_REMOVED,
        actor=actor,
        project=locked.project,
        user=locked.user.username,
        role=locked.role,
    )
    locked.delete()


def _item_from_row(project: Project, index: int, row: dict, errors: dict) -> Item | None:
    problems = {}
    data = row.get("data")
    if not isinstance(data, dict) or not data:
        problems["data"] = 'must be a non-empty object, e.g. {"text": "..."}.'
    split = row.get("split", Split.UNASSIGNED)
    if split not in Split.values:
        problems["split"] = f"unknown split {split!r}; use one of {Split.values}."
    metadata = row.get("metadata", {})
    if not isinstance(metadata, dict):
        problems["metadata"] = "must be an object."
    external_id = str(row.get("external_id") or uuid.uuid4().hex)
    if len(external_id) > 255:
        problems["external_id"] = "is longer than 255 characters."
    if problems:
        errors[index] = problems
        return None
    return Item(
        project=project,
        external_id=external_id,
        data=data,
        metadata=metadata,
        content_hash=content_hash(data),
        split=split,
        source=str(row.get("source", ""))[:32],
    )


def items_create(*, project: Project, rows: list[dict]) -> list[Item]:
    """Creates items from plain dicts, all or none: a ValidationError lists every bad row by index.

    Duplicate external ids (inside `rows` or already in the project) are errors. One transaction.
    """
    errors: dict[int, dict] = {}
    items = [_item_from_row(project, i, row, errors) for i, row in enumerate(rows)]
    seen: dict[str, int] = {}
    for i, item in enumerate(items):
        if item is None:
            continue
        if item.external_id in seen:
            errors[i] = {
                "external_id": f"{item.external_id!r} repeats row {seen[item.external_id]}."
            }
        seen.setdefault(item.external_id, i)
    existing = set(
        Item.objects.filter(project=project, external_id__in=list(seen)).values_list(
            "external_id", flat=True
        )
    )
    for external_id in existing:
        errors[seen[external_id]] = {"external_id": f"{external_id!r} is already in the project."}
    if errors:
        raise ValidationError(
            {
                f"rows[{i}].{field}": [message]
                for i, problems in sorted(errors.items())
                for field, message in problems.items()
            }
        )
    with transaction.atomic():
        return Item.objects.bulk_create(items, batch_size=1000)


def user_create(*, username: str, password: str | None, email: str = "", **flags):
    """Creates an account (staff only, via the API or admin). No password = cannot sign in."""
    user = User(username=username, email=email, **flags)
    if password:
        user.set_password(password)
    else:
        user.set_unusable_password()
    user.full_clean()
    user.save()
    return user
