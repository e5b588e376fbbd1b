"""Editing a version's dataset card: only the sections a lead writes, its license and its
languages change; the data and the figures never do."""

import re

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from curation.cards import LEAD_SECTIONS
from curation.models import AuditEvent, AuditKind, DatasetVersion

MAX_SECTION = 20_000
LICENSE = re.compile(r"^[a-z0-9][a-z0-9.+-]{0,63}$")
LANGUAGE = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")
MAX_LANGUAGES = 20


class CardConflict(Exception):
    """The card changed since the editor read it (optimistic concurrency): nothing was saved."""


def card_revision(version: DatasetVersion) -> str:
    """What an editor sends back to say which card it edited: when it last changed."""
    return version.card_updated_at.isoformat() if version.card_updated_at else ""


def parse_languages(text: str) -> list[str]:
    """Language codes from "en, de" (commas or spaces), lower-cased and checked."""
    codes = [code.strip() for code in re.split(r"[,\s]+", text or "") if code.strip()]
    bad = [code for code in codes if not LANGUAGE.match(code)]
    if bad or len(codes) > MAX_LANGUAGES:
        raise ValidationError({"language": "Give language codes such as en, de or pt-BR, "
                                           "separated by commas."})  # fmt: skip
    return codes


def _cleaned(sections: dict) -> dict:
    errors, cleaned = {}, {}
    for key, value in sections.items():
        if key in LEAD_SECTIONS:
            text = str(value or "")
            if len(text) > MAX_SECTION:
                errors[key] = f"Keep this section under {MAX_SECTION:,} characters."
            cleaned[key] = text.replace("\r\n", "\n").strip()
        elif key == "license":
            text = str(value or "").strip().lower() or "other"
            if not LICENSE.match(text):
                errors[key] = "Give a license identifier such as cc-by-4.0, mit or other."
            cleaned[key] = text
        elif key == "language":
            codes = value if isinstance(value, list) else None
            try:
                cleaned[key] = parse_languages(" ".join(map(str, codes)) if codes else str(value
                                               or ""))  # fmt: skip
            except ValidationError as exc:
                errors[key] = exc.message_dict["language"][0]
        else:
            errors[key] = "This is not a section of the card a lead writes."
    if errors:
        raise ValidationError(errors)
    return cleaned


def version_card_update(
    *, version: DatasetVersion, user, sections: dict, revision: str
) -> DatasetVersion:
    """Stores the lead-written `sections` (any of motivation, collection, limitations, uses,
    out_of_scope, license, language) of `version`'s card; what is not given is kept. Raises
    ValidationError for a bad value and CardConflict when `revision` is not the card's current
    one. Writes an AuditEvent (VERSION_CARD_EDITED) in the same transaction."""
    cleaned = _cleaned(sections)
    with transaction.atomic():
        locked = DatasetVersion.objects.select_for_update().get(pk=version.pk)
        if card_revision(locked) != (revision or ""):
            raise CardConflict("Someone else changed this card since you opened it.")
        changed = sorted(k for k, v in cleaned.items() if locked.card_sections.get(k) != v)
        locked.card_sections = {**locked.card_sections, **cleaned}
        locked.card_updated_at = timezone.now()
        locked.save(update_fields=["card_sections", "card_updated_at"])
        AuditEvent.objects.create(kind=AuditKind.VERSION_CARD_EDITED, actor=user,
                                  project=locked.project,
                                  detail={"version": locked.number, "fields": changed})  # fmt: skip
    return locked
