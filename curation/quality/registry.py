"""The quality jobs a lead can start, with their parameters and defaults.

Each entry names a JobRun kind (registered with `curation.jobs.job_kind`), the kind of findings
it writes and the parameters it takes. The project page, the API (`POST
/api/projects/<slug>/jobs/`) and `manage.py run_job` all start jobs through `quality_job_start`,
which checks the parameters against the defaults' types: an unknown name or a wrong type is a
ValidationError naming the field. The adjudication app registers the wrong-label job here too.
"""

from dataclasses import dataclass, field

from django.core.exceptions import ValidationError

from curation.jobs import job_run_start
from curation.models import JobRun, Project


@dataclass(frozen=True)
class QualityJob:
    kind: str  # the JobRun kind
    label: str
    description: str
    finding_kind: str
    defaults: dict = field(default_factory=dict)
    # Label schema kinds the job applies to; None for every project.
    schema_kinds: tuple[str, ...] | None = None
    # Whether the lead may run it after each import (not a job that needs a choice made first).
    after_import: bool = True


QUALITY_JOBS: dict[str, QualityJob] = {}


def register_quality_job(spec: QualityJob) -> None:
    QUALITY_JOBS[spec.kind] = spec


def quality_params(kind: str, raw: dict | None) -> dict:
    """The job's parameters: its defaults, overridden by `raw` (checked name by name)."""
    spec = QUALITY_JOBS.get(kind)
    if spec is None:
        known = ", ".join(sorted(QUALITY_JOBS))
        raise ValidationError({"kind": [f"Unknown quality job {kind!r}; use one of: {known}."]})
    params = dict(spec.defaults)
    problems = {}
    for name, value in (raw or {}).items():
        if name not in spec.defaults:
            problems[f"params.{name}"] = [f"{spec.label} takes no parameter {name!r}."]
            continue
        default = spec.defaults[name]
        wanted = float if isinstance(default, float) else type(default)
        if wanted is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, wanted) or (wanted is int and isinstance(value, bool)):
            problems[f"params.{name}"] = [f"must be {wanted.__name__}, like {default!r}."]
            continue
        params[name] = value
    if problems:
        raise ValidationError(problems)
    return params


def quality_job_start(*, project: Project, kind: str, user=None, params=None) -> JobRun:
    """Queues a quality job (or returns the project's active run of that kind)."""
    return job_run_start(project=project, kind=kind, user=user,
                         params=quality_params(kind, params))  # fmt: skip
