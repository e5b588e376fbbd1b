"""Reads of versions, always through the project the caller reached via curation.access."""

from django.http import Http404

from curation.models import DatasetVersion, JobRun, Project
from curation.versions.freeze import KIND


def project_versions(*, project: Project):
    """The project's versions, newest first, with who froze them."""
    return project.versions.select_related("created_by").order_by("-number")


def project_version(*, project: Project, number: int) -> DatasetVersion:
    """Version `number` of `project`; 404 when it has none of that number."""
    version = project_versions(project=project).filter(number=number).first()
    if version is None:
        raise Http404("No such version.")
    version.project = project  # keeps the caller's role annotation (my_role)
    return version


def project_freeze_run(*, project: Project) -> JobRun | None:
    """The project's latest freeze run, to show its progress or its outcome."""
    return project.job_runs.filter(kind=KIND).order_by("-created_at", "-id").first()
