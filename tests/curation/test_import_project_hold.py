"""The item table has no database foreign key to its project: PostgreSQL checks such a key one
row at a time, a million checks at the commit of a large import. The import holds the project
row instead, as the key's check would: while it writes, the project cannot be deleted under it,
and the lead can still save the project's settings."""

import psycopg
import pytest
from django.conf import settings
from django.db import connection

from curation.importing import pipeline
from curation.models import Item, JobStatus
from tests.curation.test_import import jsonl

ON_POSTGRES = settings.DATABASES["default"]["ENGINE"].endswith("postgresql")
pytestmark = [
    pytest.mark.skipif(not ON_POSTGRES, reason="needs PostgreSQL (row locks): set DATABASE_URL"),
    pytest.mark.django_db(transaction=True),
]


def other_session():
    """A second connection to the test database, as another request or a psql user would be."""
    db = connection.settings_dict
    return psycopg.connect(dbname=db["NAME"], host=db["HOST"] or None, port=db["PORT"] or None,
                           user=db["USER"] or None, password=db["PASSWORD"] or None,
                           autocommit=True)  # fmt: skip


def test_the_project_cannot_be_deleted_while_its_import_writes(team, run_import, monkeypatch):
    seen = {}
    rows = pipeline._Checker.rows

    def rows_then_try(self, records):
        if not seen:  # once, while the import's transaction is open
            with other_session() as other:
                other.execute("SET lock_timeout = '300ms'")
                other.execute("UPDATE curation_project SET description = 'saved' WHERE id = %s",
                              [team.project.pk])  # fmt: skip
                seen["settings saved"] = True
                with pytest.raises(psycopg.errors.LockNotAvailable):
                    other.execute("DELETE FROM curation_project WHERE id = %s", [team.project.pk])
                seen["delete refused"] = True
        return rows(self, records)

    monkeypatch.setattr(pipeline._Checker, "rows", rows_then_try)
    run = run_import(jsonl({"id": "a", "text": "one"}, {"id": "b", "text": "two"}))
    assert run.status == JobStatus.DONE, run.errors
    assert seen == {"settings saved": True, "delete refused": True}
    assert Item.objects.filter(project=team.project, external_id__in=["a", "b"]).count() == 2
    team.project.refresh_from_db()
    assert team.project.description == "saved"
