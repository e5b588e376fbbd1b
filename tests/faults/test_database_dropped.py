"""PostgreSQL drops every connection (pg_terminate_backend) again and again while annotators
label through the API: requests fail cleanly, never hang or leak internals, succeed again once
the database is back, and no annotation is lost or stored twice (ASG-7, JOB-8)."""

import http.client
import json
import threading
import time
import uuid

import psycopg
import pytest
from django.db import connection
from rest_framework.authtoken.models import Token

from annotation.models import Annotation, LabelSchema
from annotation.schemas import default_config
from curation.models import Item, Role
from tests.factories import ItemFactory, MembershipFactory, ProjectFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)

ANNOTATORS, ITEMS_EACH = 4, 12
CLEAN_FAILURES = {503}  # with Retry-After: config.errors.server_error


class Annotator(threading.Thread):
    """next -> submit, ITEMS_EACH times; a failed call is retried with the same submission key,
    as a client that does not know whether its request landed would."""

    def __init__(self, port: int, token: str, slug: str):
        super().__init__()
        self.port, self.slug = port, slug
        self.headers = {"Authorization": f"Token {token}", "Content-Type": "application/json"}
        self.statuses: list[int] = []
        self.bodies: list[bytes] = []
        self.retry_after: str | None = None
        self.stored: dict[str, int] = {}  # submission key -> item id, once answered 200/201

    def call(self, path: str, body: dict) -> tuple[int, bytes]:
        for _ in range(200):
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            try:
                conn.request("POST", path, json.dumps(body), self.headers)
                response = conn.getresponse()
                status, data = response.status, response.read()
                self.retry_after = response.getheader("Retry-After")
            finally:
                conn.close()
            self.statuses.append(status)
            if status not in CLEAN_FAILURES:
                return status, data
            self.bodies.append(data)
            time.sleep(0.05)
        raise AssertionError(f"{path} kept failing")

    def next_item(self) -> tuple[int, bytes]:
        """The next item; a 204 with Retry-After means others still hold the rest: wait."""
        for _ in range(300):
            status, data = self.call(f"/api/projects/{self.slug}/next/", {})
            if status != 204 or not self.retry_after:
                return status, data
            time.sleep(0.1)
        raise AssertionError("the queue stayed held by others")

    def run(self):
        for _ in range(ITEMS_EACH):
            status, data = self.next_item()
            if status == 204:
                return
            assert status == 200, (status, data[:300])
            item = json.loads(data)["item"]["id"]
            key = uuid.uuid4().hex
            body = {"value": {"label": "positive"}, "seconds_spent": 3, "submission_key": key}
            status, data = self.call(f"/api/items/{item}/annotations/", body)
            assert status in (200, 201), (status, data[:300])
            self.stored[key] = item


def drop_connections(ready: threading.Event, stop: threading.Event, dsn: str, database: str,
                     keep: int, dropped: list[int]) -> None:  # fmt: skip
    """Terminates every other backend of the test database every 20 ms, counting them in
    `dropped[0]`; `ready` is set once it is connected and sweeping."""
    with psycopg.connect(dsn, autocommit=True) as admin:
        ready.set()
        while not stop.wait(0.02):
            rows = admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> pg_backend_pid() AND pid <> %s",
                [database, keep],
            ).fetchall()
            dropped[0] += len(rows)


def test_labeling_survives_dropped_database_connections(live_server):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (DATABASE_URL)")
    project = ProjectFactory(annotators_per_item=2)
    LabelSchema.objects.create(project=project, kind="single_choice",
                               config=default_config("single_choice"))  # fmt: skip
    # Twice the places the annotators will fill, so that none runs out of items it may take.
    ItemFactory.create_batch(ANNOTATORS * ITEMS_EACH, project=project)
    tokens = []
    for _ in range(ANNOTATORS):
        user = UserFactory()
        MembershipFactory(project=project, user=user, role=Role.ANNOTATOR)
        tokens.append(Token.objects.create(user=user).key)
    connection.ensure_connection()
    keep = connection.connection.info.backend_pid  # the test's own connection
    db = connection.settings_dict
    dsn = f"host={db['HOST']} port={db['PORT']} user={db['USER']} dbname=postgres"

    port = int(live_server.url.rsplit(":", 1)[1])
    clients = [Annotator(port, token, project.slug) for token in tokens]
    ready, stop, dropped = threading.Event(), threading.Event(), [0]
    killer = threading.Thread(target=drop_connections,
                              args=(ready, stop, dsn, db["NAME"], keep, dropped))  # fmt: skip
    killer.start()
    assert ready.wait(30)  # sweeping before the first call: the calls are quick
    for client in clients:
        client.start()
    # Three seconds of dropped connections (more on a slow machine, until one was dropped while
    # the annotators work), then the database is left alone.
    began = time.monotonic()
    while time.monotonic() - began < 3 or (not dropped[0] and time.monotonic() - began < 30):
        time.sleep(0.05)
    stop.set()
    killer.join()
    for client in clients:
        client.join(timeout=120)
        assert not client.is_alive()

    statuses = [s for client in clients for s in client.statuses]
    assert dropped[0] > 0
    assert set(statuses) <= {200, 201, 204} | CLEAN_FAILURES
    for body in (b for client in clients for b in client.bodies):
        assert b"Traceback" not in body and b"OperationalError" not in body
        assert b"psycopg" not in body
    # Every submission that was answered is stored exactly once; nothing else is stored.
    stored = {key: item for client in clients for key, item in client.stored.items()}
    annotations = Annotation.objects.filter(item__project=project)
    assert annotations.count() == len(stored) == ANNOTATORS * ITEMS_EACH
    assert set(annotations.values_list("submission_key", flat=True)) == set(stored)
    for item in Item.objects.filter(project=project):
        assert item.annotations.count() <= project.annotators_per_item
        assert item.annotation_count == item.annotations.count()
