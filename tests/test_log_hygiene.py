"""LOG-2: logs carry no passwords, tokens, cookies or item text by default. Everything a
session of sign-ins, uploads, labeling and jobs logs is captured at DEBUG and searched for
marker values planted in each of those places."""

import logging

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from rest_framework.test import APIClient

from annotation.models import LabelSchema
from annotation.schemas import default_config
from curation.importing.files import import_start
from tests.conftest import jobs_in_process
from tests.factories import PASSWORD

PASSWORD_MARK = "Pw-marker-8812-never-logged"
TOKEN_MARK = "0123456789abcdef0123456789abcdefdeadbeef"
TEXT_MARK = "Item-text-marker-5531"
BAD_TEXT_MARK = "Bad-row-marker-7719"


@pytest.fixture
def everything_logged(caplog):
    caplog.set_level(logging.DEBUG)
    return caplog


def test_sign_ins_tokens_item_text_and_jobs_leave_no_secret_in_the_logs(
    team, client, everything_logged, settings, tmp_path, django_capture_on_commit_callbacks
):
    settings.MEDIA_ROOT = tmp_path
    login = reverse("login")
    client.post(login, {"username": team.lead.username, "password": PASSWORD_MARK})
    APIClient().get("/api/projects/", HTTP_AUTHORIZATION=f"Token {TOKEN_MARK}")
    client.post(login, {"username": team.lead.username, "password": PASSWORD})
    cookie = client.cookies["sessionid"].value

    LabelSchema.objects.create(project=team.project, kind="single_choice",
                               config=default_config("single_choice"))  # fmt: skip
    good = f'{{"id": "m-1", "text": "{TEXT_MARK}"}}\n'.encode()
    bad = f'{{"id": "m-2", "text": "{BAD_TEXT_MARK}", "split": "nowhere"}}\n'.encode()
    for name, content in (("bad.jsonl", good + bad), ("good.jsonl", good)):
        with jobs_in_process(), django_capture_on_commit_callbacks(execute=True):
            import_start(project=team.project, user=team.lead, filename=name, options={},
                         source=SimpleUploadedFile(name, content))  # fmt: skip
    assert team.project.items.filter(external_id="m-1").exists()  # the session did real work

    logged = everything_logged.text + "".join(
        str(record.args) for record in everything_logged.records
    )
    assert logged  # something was logged
    for secret in (PASSWORD_MARK, PASSWORD, TOKEN_MARK, cookie, TEXT_MARK, BAD_TEXT_MARK):
        assert secret not in logged
