"""The curation pages: each full page and its htmx fragment, who may see and change what, and
that user data never becomes markup."""

import json

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.template.loader import render_to_string
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils.html import escape

from curation.models import (
    AuditEvent,
    AuditKind,
    JobRun,
    JobStatus,
    Membership,
    Project,
    Role,
)
from tests.factories import ItemFactory, MembershipFactory, ProjectFactory, UserFactory

HTMX = {"HTTP_HX_REQUEST": "true"}
PAYLOADS = ["</script><script>alert(1)</script>", "<img src=x onerror=alert(1)>"]


def url(name, team=None, **kwargs):
    if team is not None:
        kwargs.setdefault("slug", team.project.slug)
    return reverse(f"curation:{name}", kwargs=kwargs)


def grant_create(user):
    user.user_permissions.add(Permission.objects.get(codename="add_project"))


def start_job(project, user):
    """A queued run, as job_run_start leaves it until the transaction commits."""
    return JobRun.objects.create(project=project, kind="project_stats", created_by=user)


def membership_of(team, user):
    return Membership.objects.get(project=team.project, user=user)


# --- routes every persona may or may not reach ------------------------------------------------


def project_routes(team):
    """(method, url) for every project URL, with the ids that exist in `team.project`."""
    job = start_job(team.project, team.lead)
    member = membership_of(team, team.annotators[1])
    return [
        ("get", url("project_detail", team)),
        ("get", url("project_edit", team)),
        ("post", url("project_edit", team)),
        ("post", url("job_start", team)),
        ("get", url("job_status", team, job_id=job.pk)),
        ("get", url("members", team)),
        ("post", url("members", team)),
        ("post", url("member_role", team, membership_id=member.pk)),
        ("post", url("member_remove", team, membership_id=member.pk)),
    ]


@pytest.mark.django_db
class TestWhoGetsWhat:
    @pytest.mark.parametrize("persona", ["outsider", "other_lead"])
    def test_non_members_get_404_on_every_project_url(self, team, client_for, persona):
        client = client_for(team.persona(persona))
        for method, address in project_routes(team):
            response = getattr(client, method)(address, {"role": Role.LEAD})
            assert response.status_code == 404, (method, address)
        assert membership_of(team, team.annotators[1]).role == Role.ANNOTATOR

    def test_404_page_reveals_nothing(self, team, client_for):
        response = client_for(team.outsider).get(url("project_detail", team))
        assert b"Page not found" in response.content
        assert team.project.name.encode() not in response.content
        assert b"No such project" not in response.content

    def test_anonymous_is_sent_to_sign_in(self, team, client_for):
        client = client_for(None)
        for address in [url("project_list"), url("project_create"), url("project_detail", team)]:
            response = client.get(address)
            assert response.status_code == 302
            assert response["Location"].startswith(reverse("login"))

    @pytest.mark.parametrize("persona", ["annotator", "reviewer"])
    def test_non_leads_get_403_on_lead_pages(self, team, client_for, persona):
        client = client_for(team.persona(persona))
        member = membership_of(team, team.annotators[1])
        lead_only = [
            ("get", url("project_edit", team), {}),
            ("post", url("project_edit", team), {"name": "Taken over"}),
            ("post", url("job_start", team), {}),
            ("post", url("members", team), {"username": "otto_outsider", "role": "lead"}),
            ("post", url("member_role", team, membership_id=member.pk), {"role": "lead"}),
            ("post", url("member_remove", team, membership_id=member.pk), {}),
        ]
        for method, address, data in lead_only:
            response = getattr(client, method)(address, data)
            assert response.status_code == 403, (method, address)
            assert b"Not allowed" in response.content
        team.project.refresh_from_db()
        assert team.project.name == "Support intents"
        assert membership_of(team, team.annotators[1]).role == Role.ANNOTATOR
        assert not team.project.memberships.filter(user=team.outsider).exists()
        assert not team.project.job_runs.exists()

    def test_role_and_remove_urls_accept_only_post(self, team, client_for):
        member = membership_of(team, team.annotator)
        client = client_for(team.lead)
        assert client.get(url("member_role", team, membership_id=member.pk)).status_code == 405
        assert client.get(url("member_remove", team, membership_id=member.pk)).status_code == 405
        assert client.get(url("job_start", team)).status_code == 405


# --- my projects ------------------------------------------------------------------------------


@pytest.mark.django_db
class TestProjectList:
    def test_full_page_lists_my_projects_with_role_and_progress(self, team, client_for):
        response = client_for(team.annotator).get(url("project_list"))
        assert response.status_code == 200
        html = response.content.decode()
        assert "<html" in html and "My projects" in html
        assert "Support intents" in html
        assert "Other project" not in html
        assert "Annotator" in html
        assert 'value="0"' in html  # no annotations yet
        assert html.count(team.project.get_absolute_url()) == 1

    def test_htmx_gets_the_table_fragment(self, team, client_for):
        response = client_for(team.lead).get(url("project_list"), **HTMX)
        html = response.content.decode()
        assert response.status_code == 200
        assert html.lstrip().startswith('<section id="project-table"')
        assert "<html" not in html
        assert "Support intents" in html

    def test_new_project_button_only_for_those_who_may_create(self, team, client_for):
        assert b"New project" not in client_for(team.lead).get(url("project_list")).content
        grant_create(team.outsider)
        response = client_for(team.outsider).get(url("project_list"))
        assert b"New project" in response.content
        assert b"not a member of any project" in response.content

    def test_query_count_does_not_grow_with_projects(
        self, team, client_for, django_assert_max_num_queries
    ):
        client = client_for(team.lead)
        with CaptureQueriesContext(connection) as one_project:
            client.get(url("project_list"))
        for _ in range(8):
            project = ProjectFactory()
            MembershipFactory(project=project, user=team.lead, role=Role.REVIEWER)
            MembershipFactory(project=project)
            ItemFactory.create_batch(2, project=project)
        with django_assert_max_num_queries(len(one_project)):
            response = client.get(url("project_list"))
        assert len(response.context["rows"]) == 9


# --- project page and jobs --------------------------------------------------------------------


@pytest.mark.django_db
class TestProjectDetail:
    def test_full_page_shows_guidelines_counts_and_members(self, team, client_for):
        Project.objects.filter(pk=team.project.pk).update(
            description="Intents of support tickets.", guidelines="# Labelling\n\n*Read twice*."
        )
        response = client_for(team.annotator).get(url("project_detail", team))
        html = response.content.decode()
        assert response.status_code == 200
        assert "Intents of support tickets." in html
        assert '<div class="prose" hx-disable><h1>Labelling</h1>' in html
        assert "<em>Read twice</em>" in html
        assert '<th scope="row">Unassigned</th><td class="num">5</td>' in html
        for user in [team.lead, team.reviewer, *team.annotators]:
            assert user.username in html
        assert response.context["progress"]["n_members"] == 5
        assert "Edit project" not in html and "Test background jobs" not in html

    def test_lead_sees_edit_members_and_jobs(self, team, client_for):
        html = client_for(team.lead).get(url("project_detail", team)).content.decode()
        assert url("project_edit", team) in html
        assert url("members", team) in html
        assert "Test background jobs" in html

    def test_htmx_gets_the_counts_fragment(self, team, client_for):
        response = client_for(team.reviewer).get(url("project_detail", team), **HTMX)
        html = response.content.decode()
        assert html.lstrip().startswith('<section id="project-counts"')
        assert 'hx-trigger="job-finished from:body"' in html
        assert "<html" not in html

    def test_lead_starts_a_job_and_gets_the_jobs_fragment(self, team, client_for):
        response = client_for(team.lead).post(url("job_start", team), **HTMX)
        run = team.project.job_runs.get()
        html = response.content.decode()
        assert response.status_code == 200
        assert html.lstrip().startswith('<section id="jobs"')
        assert f'id="job-{run.pk}"' in html
        assert 'hx-trigger="every 1s"' in html

    def test_starting_without_htmx_redirects_and_twice_keeps_one_active_run(self, team, client_for):
        client = client_for(team.lead)
        first = client.post(url("job_start", team))
        client.post(url("job_start", team))
        assert first.status_code == 302
        assert first["Location"] == url("project_detail", team)
        assert team.project.job_runs.count() == 1

    def test_job_runs_once_committed(
        self, team, client_for, django_capture_on_commit_callbacks, in_process_jobs
    ):
        with django_capture_on_commit_callbacks(execute=True):
            client_for(team.lead).post(url("job_start", team), **HTMX)
        run = team.project.job_runs.get()
        assert run.status == JobStatus.DONE
        assert run.counts == {"items": 5, "split_unassigned": 5}

    def test_job_status_polls_while_active_then_stops(self, team, client_for):
        run = start_job(team.project, team.lead)
        client = client_for(team.reviewer)
        active = client.get(url("job_status", team, job_id=run.pk), **HTMX)
        assert active.status_code == 200
        assert 'hx-trigger="every 1s"' in active.content.decode()
        JobRun.objects.filter(pk=run.pk).update(
            status=JobStatus.DONE, progress=1.0, counts={"items": 5}
        )
        done = client.get(url("job_status", team, job_id=run.pk), **HTMX)
        html = done.content.decode()
        assert done.status_code == 286
        assert json.loads(done["HX-Trigger"]) == {"job-finished": {}}
        assert "hx-trigger" not in html and "Done" in html and 'value="100"' in html

    def test_job_status_full_page(self, team, client_for):
        run = start_job(team.project, team.lead)
        response = client_for(team.reviewer).get(url("job_status", team, job_id=run.pk))
        assert response.status_code == 200
        assert b"<html" in response.content and f"Job #{run.pk}".encode() in response.content

    def test_job_of_another_project_is_404(self, team, client_for):
        foreign = start_job(team.other_project, team.other_lead)
        response = client_for(team.lead).get(url("job_status", team, job_id=foreign.pk), **HTMX)
        assert response.status_code == 404


# --- create and edit --------------------------------------------------------------------------


@pytest.mark.django_db
class TestProjectCreateEdit:
    data = {
        "name": "Toxicity",
        "slug": "toxicity",
        "description": "Short texts.",
        "guidelines": "Be kind.",
        "annotators_per_item": "2",
    }

    def test_without_permission_it_is_403(self, team, client_for):
        client = client_for(team.lead)
        assert client.get(url("project_create")).status_code == 403
        assert client.post(url("project_create"), self.data).status_code == 403
        assert not Project.objects.filter(slug="toxicity").exists()

    def test_permitted_user_creates_a_project_and_becomes_its_lead(self, team, client_for):
        grant_create(team.outsider)
        client = client_for(team.outsider)
        page = client.get(url("project_create"))
        assert page.status_code == 200 and b'name="slug"' in page.content
        response = client.post(url("project_create"), self.data)
        project = Project.objects.get(slug="toxicity")
        assert response.status_code == 302
        assert response["Location"] == project.get_absolute_url()
        assert project.annotators_per_item == 2 and project.created_by == team.outsider
        assert membership_of_project(project, team.outsider).role == Role.LEAD

    def test_htmx_create_redirects_the_client_and_fragment_shows_errors(self, team, client_for):
        grant_create(team.outsider)
        client = client_for(team.outsider)
        form = client.get(url("project_create"), **HTMX).content.decode()
        assert form.lstrip().startswith('<form id="project-form"') and "<html" not in form
        taken = client.post(url("project_create"), {**self.data, "slug": team.project.slug}, **HTMX)
        assert taken.status_code == 200
        assert "Project with this Slug already exists." in taken.content.decode()
        created = client.post(url("project_create"), self.data, **HTMX)
        assert created["HX-Redirect"] == url("project_detail", slug="toxicity")

    def test_lead_edits_the_project_and_archives_it(self, team, client_for):
        client = client_for(team.lead)
        page = client.get(url("project_edit", team))
        assert page.status_code == 200 and b'value="Support intents"' in page.content
        fragment = client.get(url("project_edit", team), **HTMX).content.decode()
        assert fragment.lstrip().startswith('<form id="project-form"')
        response = client.post(
            url("project_edit", team),
            {"name": "Support intents v2", "annotators_per_item": "5", "archived": "on"},
        )
        team.project.refresh_from_db()
        assert response.status_code == 302
        assert (team.project.name, team.project.annotators_per_item) == ("Support intents v2", 5)
        assert team.project.archived and team.project.slug == "support-intents"

    def test_project_without_creator_can_be_edited(self, team, client_for):
        """A project whose creator account was deleted (created_by is NULL) stays editable."""
        assert team.project.created_by is None
        response = client_for(team.lead).post(
            url("project_edit", team), {"name": "Renamed", "annotators_per_item": "3"}
        )
        assert response.status_code == 302

    def test_invalid_edit_is_shown_and_not_saved(self, team, client_for):
        response = client_for(team.lead).post(
            url("project_edit", team), {"name": "", "annotators_per_item": "99"}, **HTMX
        )
        html = response.content.decode()
        assert response.status_code == 200
        assert "This field is required." in html
        assert "Ensure this value is less than or equal to 50." in html
        team.project.refresh_from_db()
        assert team.project.name == "Support intents"


def membership_of_project(project, user):
    return Membership.objects.get(project=project, user=user)


# --- members ----------------------------------------------------------------------------------


@pytest.mark.django_db
class TestMembers:
    def test_any_member_sees_the_list_without_forms(self, team, client_for):
        response = client_for(team.annotator).get(url("members", team))
        html = response.content.decode()
        assert response.status_code == 200
        assert all(user.username in html for user in [team.lead, team.reviewer, team.annotator])
        assert "<form" not in html.split('id="members"')[1]  # only the header's sign-out form

    def test_lead_sees_forms_and_htmx_gets_the_table(self, team, client_for):
        client = client_for(team.lead)
        html = client.get(url("members", team)).content.decode()
        assert "Add a member" in html and 'name="role"' in html
        fragment = client.get(url("members", team), **HTMX).content.decode()
        assert fragment.lstrip().startswith('<section id="members"') and "<html" not in fragment

    def test_lead_adds_a_member(self, team, client_for):
        response = client_for(team.lead).post(
            url("members", team), {"username": "otto_outsider", "role": Role.REVIEWER}
        )
        assert response.status_code == 302 and response["Location"] == url("members", team)
        assert membership_of(team, team.outsider).role == Role.REVIEWER
        event = AuditEvent.objects.get(kind=AuditKind.MEMBER_ADDED)
        assert (event.actor, event.project) == (team.lead, team.project)

    def test_lead_adds_a_member_with_htmx(self, team, client_for):
        response = client_for(team.lead).post(
            url("members", team), {"username": "otto_outsider", "role": Role.ANNOTATOR}, **HTMX
        )
        html = response.content.decode()
        assert response.status_code == 200
        assert html.lstrip().startswith('<section id="members"')
        assert "Added otto_outsider as Annotator." in html
        assert membership_of(team, team.outsider).role == Role.ANNOTATOR

    @pytest.mark.parametrize(
        ("username", "error"),
        [
            ("nobody_here", "No account has this username."),
            ("anna_1", "anna_1 is already a member."),
        ],
    )
    def test_add_errors_name_the_field(self, team, client_for, username, error):
        response = client_for(team.lead).post(
            url("members", team), {"username": username, "role": Role.ANNOTATOR}, **HTMX
        )
        html = response.content.decode()
        assert response.status_code == 200
        username_field = html.split('for="id_username"')[1].split('for="id_role"')[0]
        assert error in username_field and 'aria-invalid="true"' in username_field
        assert team.project.memberships.count() == 5

    def test_lead_changes_a_role(self, team, client_for):
        member = membership_of(team, team.annotator)
        response = client_for(team.lead).post(
            url("member_role", team, membership_id=member.pk), {"role": Role.REVIEWER}, **HTMX
        )
        assert response.status_code == 200
        assert "anna_1 is now Reviewer." in response.content.decode()
        member.refresh_from_db()
        assert member.role == Role.REVIEWER
        assert AuditEvent.objects.get(kind=AuditKind.MEMBER_ROLE_CHANGED).actor == team.lead

    def test_lead_removes_a_member_without_htmx(self, team, client_for):
        member = membership_of(team, team.annotator)
        client = client_for(team.lead)
        response = client.post(url("member_remove", team, membership_id=member.pk))
        assert response.status_code == 302
        assert not Membership.objects.filter(pk=member.pk).exists()
        assert AuditEvent.objects.get(kind=AuditKind.MEMBER_REMOVED).actor == team.lead
        assert b"Removed anna_1." in client.get(response["Location"]).content
        # Access ends on the removed member's next request.
        assert client_for(team.annotator).get(url("project_detail", team)).status_code == 404

    def test_last_lead_cannot_be_demoted(self, team, client_for):
        lead = membership_of(team, team.lead)
        response = client_for(team.lead).post(
            url("member_role", team, membership_id=lead.pk), {"role": Role.ANNOTATOR}, **HTMX
        )
        assert response.status_code == 200
        assert "A project needs at least one lead." in response.content.decode()
        lead.refresh_from_db()
        assert lead.role == Role.LEAD

    def test_last_lead_cannot_be_removed(self, team, client_for):
        lead = membership_of(team, team.lead)
        client = client_for(team.lead)
        for extra in [HTMX, {}]:
            response = client.post(url("member_remove", team, membership_id=lead.pk), **extra)
            assert response.status_code == 200
            assert "A project needs at least one lead." in response.content.decode()
        assert Membership.objects.filter(pk=lead.pk).exists()

    def test_lead_who_demotes_themselves_loses_the_forms(self, team, client_for):
        MembershipFactory(project=team.project, user=UserFactory(), role=Role.LEAD)
        lead = membership_of(team, team.lead)
        response = client_for(team.lead).post(
            url("member_role", team, membership_id=lead.pk), {"role": Role.REVIEWER}, **HTMX
        )
        html = response.content.decode()
        assert "lena_lead is now Reviewer." in html and "Add a member" not in html

    def test_lead_who_leaves_is_sent_to_my_projects(self, team, client_for):
        MembershipFactory(project=team.project, user=UserFactory(), role=Role.LEAD)
        lead = membership_of(team, team.lead)
        response = client_for(team.lead).post(
            url("member_remove", team, membership_id=lead.pk), **HTMX
        )
        assert response["HX-Redirect"] == url("project_list")

    def test_membership_of_another_project_is_404(self, team, client_for):
        foreign = Membership.objects.get(project=team.other_project, user=team.other_lead)
        client = client_for(team.lead)
        role = client.post(url("member_role", team, membership_id=foreign.pk), {"role": "lead"})
        remove = client.post(url("member_remove", team, membership_id=foreign.pk))
        assert (role.status_code, remove.status_code) == (404, 404)
        assert Membership.objects.filter(pk=foreign.pk, role=Role.LEAD).exists()

    def test_unknown_role_is_refused(self, team, client_for):
        member = membership_of(team, team.annotator)
        response = client_for(team.lead).post(
            url("member_role", team, membership_id=member.pk), {"role": "owner"}, **HTMX
        )
        assert "Select a valid choice." in response.content.decode()
        member.refresh_from_db()
        assert member.role == Role.ANNOTATOR


# --- escaping, CSP and the shared layout ------------------------------------------------------


@pytest.mark.django_db
class TestOutputIsEscaped:
    @pytest.mark.parametrize("payload", PAYLOADS)
    def test_user_data_is_escaped_on_every_page(self, team, client_for, payload):
        Project.objects.filter(pk=team.project.pk).update(
            name=f"P {payload}", description=payload, guidelines=payload
        )
        # The model does not restrict usernames (forms do): a stored one can hold anything.
        # The signed-in lead carries it, so it reaches the header, members and jobs too.
        type(team.lead).objects.filter(pk=team.lead.pk).update(username=payload)
        run = start_job(team.project, team.lead)
        JobRun.objects.filter(pk=run.pk).update(message=payload, counts={payload: 1})
        client = client_for(team.lead)
        pages = [
            client.get(url("project_list")),
            client.get(url("project_list"), **HTMX),
            client.get(url("project_detail", team)),
            client.get(url("project_edit", team)),
            client.get(url("members", team)),
            client.get(url("members", team), **HTMX),
            client.get(url("job_status", team, job_id=run.pk)),
            client.get(url("job_status", team, job_id=run.pk), **HTMX),
        ]
        for response in pages:
            html = response.content.decode()
            assert response.status_code == 200
            assert payload not in html, response.request["PATH_INFO"]
            assert escape(payload) in html, response.request["PATH_INFO"]
            assert "<script>alert" not in html and "<img src=x" not in html

    def test_markdown_drops_javascript_links(self, team, client_for):
        Project.objects.filter(pk=team.project.pk).update(
            guidelines="[x](javascript:alert(1)) <svg onload=alert(1)> [ok](https://example.org/g)"
        )
        html = client_for(team.annotator).get(url("project_detail", team)).content.decode()
        guidelines = html.split('<div class="prose" hx-disable>')[1].split("</div>")[0]
        assert "javascript:alert(1)" in guidelines  # as text, not as a link
        assert 'href="javascript' not in html and "<svg" not in html
        assert "&lt;svg onload=alert(1)&gt;" in guidelines
        assert guidelines.count("<a ") == 1
        assert '<a href="https://example.org/g" rel="noopener noreferrer nofollow">ok</a>' in html


@pytest.mark.django_db
class TestLayout:
    def test_pages_carry_no_inline_script_or_style(self, team, client_for):
        client = client_for(team.lead)
        for address in [url("project_list"), url("project_detail", team), url("members", team)]:
            response = client.get(address)
            html = response.content.decode()
            assert "style=" not in html and "<style" not in html
            assert html.count("<script") == html.count("<script src=") == 2
            assert " on" + "click=" not in html
            assert "script-src 'self'" in response["Content-Security-Policy"]

    def test_layout_sets_csrf_header_htmx_config_and_signout_form(self, team, client_for):
        html = client_for(team.lead).get(url("project_list")).content.decode()
        assert '<body hx-headers=\'{"X-CSRFToken": "' in html
        assert '"selfRequestsOnly":true,"allowEval":false,"allowScriptTags":false' in html
        assert f'<form method="post" action="{reverse("logout")}"' in html
        assert "lena_lead" in html and reverse("password_change") in html

    def test_sign_in_and_password_pages_render(self, team, client_for):
        assert b"Sign in to Concord" in client_for(None).get(reverse("login")).content
        client = client_for(team.lead)
        assert b"Change password" in client.get(reverse("password_change")).content
        assert b"Password changed" in client.get(reverse("password_change_done")).content

    def test_sign_out_is_a_post(self, team, client_for):
        client = client_for(team.lead)
        response = client.post(reverse("logout"))
        assert response.status_code == 302 and response["Location"] == reverse("login")
        assert client.get(url("project_list")).status_code == 302

    def test_post_without_csrf_token_is_refused_with_a_plain_page(self, team):
        client = Client(enforce_csrf_checks=True)
        client.force_login(team.lead)
        response = client.post(url("members", team), {"username": "otto_outsider", "role": "lead"})
        assert response.status_code == 403
        assert b"This form has expired" in response.content
        assert not team.project.memberships.filter(user=team.outsider).exists()

    def test_error_pages_show_nothing_internal(self):
        html = render_to_string("500.html")
        assert "Something went wrong" in html and "Traceback" not in html
        assert "Not allowed" in render_to_string("403.html", {"exception": "secret detail"})
        assert "secret detail" not in render_to_string("404.html", {"exception": "secret detail"})
