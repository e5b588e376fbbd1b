"""Annotations that arrive with imported items (`annotations: [{"annotator", "value"}]`).

Registered with curation's import as an extension. Unknown annotator names become inactive
users (they cannot sign in until a staff user activates them), and every named annotator becomes
an annotator of the project; both are listed in the import report.
"""

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError

from annotation.events import annotations_changed
from annotation.models import Annotation, LabelSchema
from annotation.schemas import value_problems
from annotation.services import items_recount
from curation.extensions import ImportExtension, Problem
from curation.models import Membership, Role

User = get_user_model()
FIELD = "annotations"


class AnnotationImport:
    def __init__(self, project):
        self.project = project
        schema = LabelSchema.objects.filter(project=project).first()
        self.kind, self.config = (schema.kind, schema.config) if schema else (None, None)
        self.user_ids: dict[str, int] = {}
        self.valid_names: dict[str, bool] = {}  # checked once per distinct name, not per row
        self.created_users: list[str] = []
        self.added_members: list[str] = []
        self.count = 0

    def check(self, value, data: dict) -> list[Problem]:
        if not isinstance(value, list):
            return [Problem(FIELD, "bad_annotations", f"field `{FIELD}` must be a list of "
                            '{"annotator": ..., "value": {...}} objects.')]  # fmt: skip
        problems, seen = [], set()
        limit = self.project.annotators_per_item
        if len(value) > limit:
            problems.append(Problem(FIELD, "too_many_annotations", f"field `{FIELD}` has "
                                    f"{len(value)} annotations but the project takes {limit} per "
                                    "item."))  # fmt: skip
        for i, entry in enumerate(value):
            name = entry.get("annotator") if isinstance(entry, dict) else None
            if not self._valid_name(name):
                field = f"{FIELD}[{i}].annotator"
                problems.append(Problem(field, "bad_annotator", f"field `{field}` must be a user "
                                        "name: letters, digits and @ . + - _ only."))  # fmt: skip
                continue
            if name in seen:
                field = f"{FIELD}[{i}].annotator"
                problems.append(Problem(field, "repeated_annotator", f"field `{field}`: {name!r} "
                                        "appears twice for this item."))  # fmt: skip
            seen.add(name)
            # Against the item's data too: spans must lie within its text (as when labeled).
            found = value_problems(self.kind, self.config, entry.get("value"), data=data)
            for sub, message in found:
                field = f"{FIELD}[{i}].value" + (f".{sub}" if sub else "")
                problems.append(Problem(field, "bad_value", f"field `{field}`: {message}"))
        return problems

    def _valid_name(self, name) -> bool:
        """Whether `name` can be a username (the rules sign-up applies); bulk_create skips them."""
        if not isinstance(name, str):
            return False
        if name not in self.valid_names:
            try:
                User._meta.get_field(User.USERNAME_FIELD).run_validators(name)
            except ValidationError:
                self.valid_names[name] = False
            else:
                self.valid_names[name] = bool(name)
        return self.valid_names[name]

    def _resolve_users(self, names: set[str]) -> None:
        missing = names - set(self.user_ids)
        if not missing:
            return
        found = dict(User.objects.filter(username__in=missing).values_list("username", "id"))
        new = sorted(missing - set(found))
        if new:
            users = [User(username=name, is_active=False) for name in new]
            for user in users:
                user.set_unusable_password()
            User.objects.bulk_create(users)
            found.update(User.objects.filter(username__in=new).values_list("username", "id"))
            self.created_users.extend(new)
        members = set(Membership.objects.filter(project=self.project, user_id__in=found.values())
                      .values_list("user_id", flat=True))  # fmt: skip
        joining = [(name, uid) for name, uid in found.items() if uid not in members]
        Membership.objects.bulk_create(
            [
                Membership(project=self.project, user_id=uid, role=Role.ANNOTATOR)
                for _, uid in joining
            ]
        )
        self.added_members.extend(sorted(name for name, _ in joining))
        self.user_ids.update(found)

    def write(self, rows) -> None:
        self._resolve_users({entry["annotator"] for _, entries in rows for entry in entries})
        annotations = [
            Annotation(
                item_id=item_id,
                annotator_id=self.user_ids[e["annotator"]],
                value=e["value"],
                imported=True,
            )  # fmt: skip
            for item_id, entries in rows
            for e in entries
        ]
        Annotation.objects.bulk_create(annotations, batch_size=1000)
        self.count += len(annotations)
        item_ids = [item_id for item_id, _ in rows]
        items_recount(project=self.project, item_ids=item_ids)
        annotations_changed.send(sender=Annotation, project=self.project, item_ids=item_ids)

    def summary(self) -> dict:
        return {
            "annotations_created": self.count,
            "users_created": self.created_users[:200],
            "users_created_count": len(self.created_users),
            "members_added": self.added_members[:200],
        }


extension = ImportExtension(field=FIELD, start=AnnotationImport)
