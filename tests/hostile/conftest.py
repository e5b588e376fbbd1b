"""The hostile project fixture: team.project with payloads in every data field (see
tests/hostile/project.py for what goes where)."""

import pytest

from tests.hostile.project import Hostile, build_hostile_project, run_jobs_on_commit


@pytest.fixture
def hostile(team, media, in_process_jobs, django_capture_on_commit_callbacks) -> Hostile:
    return build_hostile_project(team, jobs=run_jobs_on_commit(django_capture_on_commit_callbacks))
