"""`manage.py demo` gives a newcomer a project to click through, and can run again safely."""

import re
from io import StringIO

from django.contrib.auth import authenticate
from django.core.management import call_command

from annotation.models import Annotation, LabelSchema
from curation.models import Item, Membership, Project, Role


def run_demo():
    out = StringIO()
    call_command("demo", stdout=out)
    return out.getvalue()


def printed_passwords(output):
    return dict(re.findall(r"^\s+\w+\s+(\w+)\s+password: (\S+)$", output, flags=re.M))


def test_demo_creates_a_team_items_and_annotations_and_prints_working_passwords(db):
    output = run_demo()
    project = Project.objects.get(slug="support-intents-demo")
    roles = dict(Membership.objects.filter(project=project).values_list("user__username", "role"))
    assert roles == {
        "lena": Role.LEAD,
        "rui": Role.REVIEWER,
        "ann": Role.ANNOTATOR,
        "ben": Role.ANNOTATOR,
        "cho": Role.ANNOTATOR,
    }
    assert Item.objects.filter(project=project).count() == 300
    assert Item.objects.filter(project=project).values("content_hash").distinct().count() == 300
    assert Annotation.objects.filter(item__project=project).count() == 360
    labels = {label["value"] for label in LabelSchema.objects.get(project=project).config["labels"]}
    assert set(Annotation.objects.values_list("value__label", flat=True)) <= labels
    passwords = printed_passwords(output)
    assert set(passwords) == set(roles)
    assert "http://127.0.0.1:8000/" in output
    for username, password in passwords.items():
        assert authenticate(username=username, password=password) is not None


def test_running_the_demo_twice_adds_nothing_and_prints_fresh_passwords(db):
    first = printed_passwords(run_demo())
    second_output = run_demo()
    assert "Refreshed" in second_output
    assert Project.objects.count() == 5
    assert Item.objects.count() == 300 + 4 * 20
    assert Annotation.objects.count() == 360
    second = printed_passwords(second_output)
    assert authenticate(username="lena", password=second["lena"]) is not None
    assert authenticate(username="lena", password=first["lena"]) is None


def test_demo_has_a_project_for_every_kind_of_label(db):
    run_demo()
    kinds = dict(LabelSchema.objects.values_list("project__slug", "kind"))
    assert sorted(kinds.values()) == sorted(
        ["single_choice", "multiple_choice", "spans", "preference", "rating"]
    )
    preference = Item.objects.filter(project__slug="reply-preference-demo").first()
    assert set(preference.data) == {"prompt", "response_a", "response_b"}
    for slug in kinds:
        assert Membership.objects.filter(project__slug=slug).count() == 5


def test_demo_has_reviews_decisions_gold_and_figures(db):
    """A newcomer finds a queue to work, decisions to read and a dashboard already drawn."""
    from adjudication.models import AgreementSnapshot, Review

    run_demo()
    project = Project.objects.get(slug="support-intents-demo")
    statuses = set(Review.objects.filter(project=project).values_list("status", flat=True))
    assert statuses == {"auto", "waiting", "decided"}
    assert Review.objects.filter(project=project, guidelines_unclear=True).count() == 1
    assert Item.objects.filter(project=project, gold__isnull=False).count() == 5
    data = AgreementSnapshot.objects.get(project=project).data
    assert 0.3 < data["alpha"]["value"] < 0.9 and len(data["trend"]["points"]) >= 2


def test_demo_names_the_address_scripts_dev_serves(db):
    out = StringIO()
    call_command("demo", address="127.0.0.1:8011", items=20, annotated=5, stdout=out)
    assert "http://127.0.0.1:8011/" in out.getvalue()
    assert "8000" not in out.getvalue()
