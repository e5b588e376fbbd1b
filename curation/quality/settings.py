"""A project's quality settings, which its lead edits: the thresholds and rules of the item checks,
and the quality jobs to run after each import. Stored in `Project.quality_settings` as
{"checks": {...}, "after_import": [kinds]}.

The checks' settings are those of `CheckSettings` except `required_fields`, which comes from the
project's label schema when the checks run (curation.quality.jobs.check_settings).
"""

import math
from dataclasses import fields

from django.core.exceptions import ValidationError
from django.db import transaction

from curation.models import AuditKind, Project
from curation.quality.checks import CheckSettings
from curation.quality.registry import QUALITY_JOBS
from curation.services import audit

_DEFAULTS = CheckSettings()
CHECK_NAMES = tuple(item.name for item in fields(CheckSettings) if item.name != "required_fields")
THRESHOLDS = tuple(name for name in CHECK_NAMES if name != "rules")
SHARES = ("min_letter_share", "max_repeated_line_share")  # fractions of a text, 0 to 1
# Far above any sensible threshold, and below what a regular expression's repeat count allows.
MAX_WHOLE = 1_000_000_000


def _checks_of(settings: CheckSettings) -> dict:
    values = settings.as_dict()
    return {name: float(values[name]) if name in SHARES else values[name] for name in CHECK_NAMES}


def _stored(project: Project) -> dict:
    stored = project.quality_settings
    return stored if isinstance(stored, dict) else {}


def quality_settings_for(project: Project) -> dict:
    """The settings in effect: {"checks": every threshold and "rules", "after_import": kinds},
    defaults filling what is not stored. A stored value that is no longer valid (a rule since
    removed, a hand-edited number) shows as its default, and a job kind no longer installed is
    left out, as the import leaves it out."""
    raw = _stored(project).get("checks")
    raw = {k: v for k, v in raw.items() if k in CHECK_NAMES} if isinstance(raw, dict) else {}
    valid = {name: value for name, value in raw.items() if not _check_errors(name, value)}
    checks = _checks_of(CheckSettings.from_dict(valid))
    kinds = _stored(project).get("after_import")
    kinds = (
        [k for k in kinds if isinstance(k, str) and k in QUALITY_JOBS]
        if isinstance(kinds, list)
        else []
    )
    return {"checks": checks, "after_import": kinds}


def _check_errors(name: str, value) -> list[str]:
    """What is wrong with one setting of the checks, in words; [] when it is valid."""
    if name == "required_fields":
        return ["This comes from the label schema; it cannot be set here."]
    if name not in CHECK_NAMES:
        return [f"Unknown setting; use one of: {', '.join(CHECK_NAMES)}."]
    if name == "rules":
        if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
            return ["Give a list of rule names."]
    elif isinstance(value, bool) or not isinstance(value, int | float):
        return [f"Must be a number, like {getattr(_DEFAULTS, name)}."]
    elif name not in SHARES and not isinstance(value, int):
        return [f"Must be a whole number, like {getattr(_DEFAULTS, name)}."]
    elif name not in SHARES and value > MAX_WHOLE:
        return [f"Must be at most {MAX_WHOLE:,}."]
    elif name in SHARES and not (math.isfinite(value) and value <= 1):
        return ["Must be a share of the text, between 0 and 1."]
    try:
        CheckSettings.from_dict({name: value})
    except (TypeError, ValueError) as problem:
        # "max_chars must be …": the error is shown under the setting, so it need not name it.
        message = str(problem)
        if message.startswith(f"{name} must "):
            message = "M" + message.removeprefix(f"{name} m")
        return [message]
    return []


def _valid_checks(current: dict, changes: dict) -> dict:
    """`changes` merged over `current`, checked setting by setting and then as a whole; a
    ValidationError names each bad setting as `checks.<name>`."""
    errors = {f"checks.{name}": _check_errors(name, value) for name, value in changes.items()}
    errors = {key: messages for key, messages in errors.items() if messages}
    if errors:
        raise ValidationError(errors)
    merged = {**current, **changes}
    if merged["min_chars"] > merged["max_chars"]:
        name = "checks.max_chars" if "max_chars" in changes else "checks.min_chars"
        raise ValidationError({name: ["The minimum length is more than the maximum length."]})
    try:
        settings = CheckSettings.from_dict(merged)
    except (TypeError, ValueError) as problem:
        raise ValidationError({"checks": [str(problem)]}) from None
    return _checks_of(settings)


def _valid_kinds(kinds) -> list[str]:
    if not isinstance(kinds, list | tuple) or not all(isinstance(k, str) for k in kinds):
        raise ValidationError({"after_import": ["Give a list of quality job kinds."]})
    unknown = [kind for kind in kinds
               if kind not in QUALITY_JOBS or not QUALITY_JOBS[kind].after_import]  # fmt: skip
    if unknown:
        known = ", ".join(sorted(QUALITY_JOBS))
        listed = ", ".join(map(repr, unknown))
        raise ValidationError({"after_import": [f"Unknown quality job {listed}; use: {known}."]})
    return list(dict.fromkeys(kinds))


def quality_settings_update(
    *, project: Project, user, checks: dict | None = None, after_import: list[str] | None = None
) -> dict:
    """Sets the project's quality settings and returns them in full (`quality_settings_for`).

    `checks` holds the settings to change, merged over the ones in effect; `after_import`, when
    given, replaces the list of jobs. Writes `Project.quality_settings` (every check setting, so
    the stored values are the ones the lead saw) under a row lock, so two leads saving at once
    cannot undo each other's other settings; idempotent. A ValidationError names the field
    (`checks.max_chars`, `after_import`) and changes nothing. `user` is the lead making the
    change.
    """
    if checks is not None and not isinstance(checks, dict):
        raise ValidationError({"checks": ["Give an object of settings."]})
    with transaction.atomic():
        locked = Project.objects.select_for_update().get(pk=project.pk)
        current = quality_settings_for(locked)
        stored = dict(_stored(locked))
        if checks is not None:
            stored["checks"] = _valid_checks(current["checks"], checks)
        if after_import is not None:
            stored["after_import"] = _valid_kinds(after_import)
        locked.quality_settings = stored
        locked.save(update_fields=["quality_settings", "updated_at"])
        # Turning off the personal-data check, say, should be traceable to who did it.
        audit(AuditKind.QUALITY_SETTINGS_CHANGED, actor=user, project=locked, settings=stored)
    project.quality_settings = stored
    return quality_settings_for(project)
