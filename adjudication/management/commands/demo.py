"""`manage.py demo`: a demo project with real-looking items, a team and some annotations."""

import random
import secrets
from datetime import timedelta
from io import StringIO

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from adjudication.demo_data import (
    EXTRA_PROJECTS,
    GUIDELINES,
    LABELS,
    demo_label,
    demo_messages,
    extra_items,
)
from adjudication.models import AgreementSnapshot, Review, ReviewStatus
from adjudication.report import agreement_report
from adjudication.services import review_decide, reviews_sync
from annotation.gold import gold_set
from annotation.models import Annotation, LabelSchema, SchemaKind
from annotation.services import items_recount
from curation.audits import audit_draw, audit_sample_judge
from curation.hashing import content_hash
from curation.models import Item, Membership, Project, Role, Verdict
from curation.versions import card_revision, version_card_update

User = get_user_model()

TEAM = [
    ("lena", "Lena", "Lead", Role.LEAD, None),
    ("rui", "Rui", "Reviewer", Role.REVIEWER, None),
    ("ann", "Ann", "Annotator", Role.ANNOTATOR, 0.92),
    ("ben", "Ben", "Annotator", Role.ANNOTATOR, 0.85),
    ("cho", "Cho", "Annotator", Role.ANNOTATOR, 0.75),
]
SLUG = "support-intents-demo"
# Eight in ten items train, one dev, one test: the leakage check has splits to compare.
SPLITS = ["train"] * 8 + ["dev", "test"]
# The lead's sections of the demo version's dataset card.
DEMO_CARD = {
    "motivation": "Route incoming customer-support messages to the team that handles them.",
    "collection": "Messages from the support inbox, chat and web form, labeled by three "
    "annotators each; disagreements settled by a reviewer.",
    "limitations": "English only; a few hundred messages; the billing and refund intents "
    "are easy to confuse (see the guideline issue).",
    "license": "cc-by-4.0",
    "language": "en",
}


class Command(BaseCommand):
    help = "Creates (or refreshes) the demo project and prints its users' names and passwords."

    def add_arguments(self, parser):
        parser.add_argument("--items", type=int, default=300)
        parser.add_argument("--annotated", type=int, default=120, help="items labeled by all three")
        parser.add_argument("--address", default="127.0.0.1:8000",
                            help="where ./scripts/dev serves, for the sign-in line")  # fmt: skip

    @transaction.atomic
    def handle(self, *args, items: int, annotated: int, **options):
        passwords = {username: secrets.token_urlsafe(9) for username, *_ in TEAM}
        users = {}
        for username, first, last, _role, _skill in TEAM:
            user, _ = User.objects.get_or_create(
                username=username, defaults={"first_name": first, "last_name": f"({last})"}
            )
            user.set_password(passwords[username])
            user.is_active = True
            user.save()
            users[username] = user
        lead = users["lena"]
        lead.is_staff = True  # may manage accounts in the admin; grants no project data access
        lead.save(update_fields=["is_staff"])
        lead.user_permissions.add(
            *Permission.objects.filter(
                codename__in=["add_project", "add_user", "change_user", "view_user"]
            )
        )
        project, created = Project.objects.get_or_create(
            slug=SLUG,
            defaults={
                "name": "Support intents (demo)",
                "description": "Route incoming customer-support messages to the right team.",
                "guidelines": GUIDELINES,
                "annotators_per_item": 3,
                "created_by": lead,
            },
        )
        for username, _first, _last, role, _skill in TEAM:
            Membership.objects.update_or_create(
                project=project, user=users[username], defaults={"role": role}
            )
        if created:
            self._seed(project, users, items, annotated)
        for extra in EXTRA_PROJECTS:
            self._extra(extra, users, lead)
        self._print(project, passwords, created, options["address"])

    def _extra(self, spec: dict, users: dict, lead) -> None:
        """A small project of another label kind, so every kind can be tried."""
        project, created = Project.objects.get_or_create(
            slug=spec["slug"],
            defaults={"name": spec["name"], "guidelines": spec["guidelines"],
                      "annotators_per_item": 3, "created_by": lead},
        )  # fmt: skip
        for username, _first, _last, role, _skill in TEAM:
            Membership.objects.update_or_create(
                project=project, user=users[username], defaults={"role": role}
            )
        if not created:
            return
        LabelSchema.objects.create(project=project, kind=spec["kind"], config=spec["config"])
        Item.objects.bulk_create(
            Item(project=project, external_id=f"{spec['kind']}-{i:03d}", data=data,
                 content_hash=content_hash(data), source="production")
            for i, data in enumerate(extra_items(spec["kind"]), start=1)
        )  # fmt: skip

    def _seed(self, project, users, n_items, n_annotated):
        LabelSchema.objects.create(
            project=project, kind=SchemaKind.SINGLE_CHOICE, config={"labels": LABELS}
        )
        messages = demo_messages(n_items)
        rows = Item.objects.bulk_create(
            Item(
                project=project,
                external_id=f"msg-{i:05d}",
                data={"text": m["text"]},
                metadata={"channel": ("email", "chat", "web form")[i % 3]},
                content_hash=content_hash({"text": m["text"]}),
                source="production",
                split=SPLITS[i % len(SPLITS)],
            )
            for i, m in enumerate(messages, start=1)
        )
        rng = random.Random(11)
        annotations = []
        for item, message in zip(rows[:n_annotated], messages, strict=False):
            for username, *_rest, skill in TEAM:
                if skill is not None:
                    label = demo_label(message, skill, rng)
                    annotations.append(
                        Annotation(
                            item=item,
                            annotator=users[username],
                            value={"label": label},
                            seconds_spent=round(rng.uniform(3, 40), 1),
                        )
                    )
        Annotation.objects.bulk_create(annotations)
        items_recount(project=project)
        self._spread_over_weeks(rows[:n_annotated])
        self._review(project, users, rows)

    def _spread_over_weeks(self, items):
        """The demo's annotations were made over the last six weeks, so the trend has points."""
        now = timezone.now()
        for i, item in enumerate(items):
            when = now - timedelta(days=42 * (len(items) - i) / len(items))
            Annotation.objects.filter(item=item).update(created_at=when, updated_at=when)

    def _review(self, project, users, rows):
        """Settles the labeled items by the default rule, has the reviewer decide a few of the
        disagreements (one flagged "guidelines unclear"), makes five unlabeled items gold, and
        computes the agreement figures."""
        reviews_sync(project=project)
        waiting = list(Review.objects.filter(project=project, status=ReviewStatus.WAITING)
                       .select_related("item").order_by("item_id")[:4])  # fmt: skip
        for i, review in enumerate(waiting):
            given = Annotation.objects.filter(item=review.item).order_by("pk").first()
            review_decide(review=review, reviewer=users["rui"], value=given.value,
                          rationale="The message asks for this; see the guidelines' examples.",
                          guidelines_unclear=i == 0,
                          guideline_comment="Refund or billing? The guidelines do not say."
                          if i == 0 else "")  # fmt: skip
        for item in rows[-5:]:
            gold_set(item=item, value={"label": LABELS[0]["value"]}, user=users["lena"])
        project.gold_rate = 0.05
        project.save(update_fields=["gold_rate"])
        AgreementSnapshot.objects.update_or_create(
            project=project,
            defaults={"data": agreement_report(project=project), "computed_at": timezone.now()},
        )
        self._version(project, users)

    def _version(self, project, users):
        """Freezes version 1 with a few card sections written, and draws a sample audit of it
        with a handful of samples judged, so the lifecycle pages have something to show."""
        call_command("freeze_version", project.slug, note="First labeled release (demo).",
                     user="lena", stdout=StringIO())  # fmt: skip
        version = project.versions.get(number=1)
        version_card_update(
            version=version, user=users["lena"], revision=card_revision(version),
            sections={**version.card_sections, **DEMO_CARD},
        )  # fmt: skip
        audit = audit_draw(project=project, user=users["lena"], version=version, size=40,
                           seed=2026, stratified=True)  # fmt: skip
        for sample in audit.samples.order_by("position")[:10]:
            verdict = Verdict.INCORRECT if sample.position == 3 else Verdict.CORRECT
            audit_sample_judge(sample=sample, reviewer=users["rui"], verdict=verdict,
                               revision=sample.revision)  # fmt: skip

    def _print(self, project, passwords, created, address):
        verb = "Created" if created else "Refreshed"
        self.stdout.write(self.style.SUCCESS(f"{verb} the demo project '{project.name}'."))
        self.stdout.write(f"Sign in (./scripts/dev serves http://{address}/) as:")
        for username, _first, last, _role, _skill in TEAM:
            self.stdout.write(f"  {last.lower():<10} {username:<6} password: {passwords[username]}")
