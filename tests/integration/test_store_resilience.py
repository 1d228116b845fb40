"""The event store rides out killed connections and refuses a second write of the same version."""

from __future__ import annotations

import os
import uuid
from contextlib import closing
from typing import TYPE_CHECKING

import psycopg2
import psycopg2.extensions
import pytest
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event
from eventsourcing.persistence import IntegrityError

from tests.conftest import scratch_database

if TYPE_CHECKING:
    from collections.abc import Iterator
    from uuid import UUID


class Inquiry(Aggregate):
    @event("Opened")
    def __init__(self, subject: str) -> None:
        self.subject = subject
        self.notes: list[str] = []

    @event("NoteAdded")
    def add_note(self, text: str) -> None:
        self.notes.append(text)


class Desk(Application[uuid.UUID]):
    """A small application on casemgmt's persistence module."""


def _url_of(database: str) -> str:
    params = psycopg2.extensions.parse_dsn(os.environ["CASEMGMT_DATABASE_URL"])
    return str(psycopg2.extensions.make_dsn(**{**params, "dbname": database}))


def _admin(database: str | None = None) -> psycopg2.extensions.connection:
    url = _url_of(database) if database else os.environ["CASEMGMT_DATABASE_URL"]
    conn = psycopg2.connect(url, application_name="casemgmt-test-admin")
    conn.autocommit = True
    return conn


@pytest.fixture
def database() -> Iterator[str]:
    """A database of this test's own, so killing its connections cannot hurt anyone else's."""
    name = f"casemgmt_resilience_{uuid.uuid4().hex[:12]}"
    with scratch_database(os.environ["CASEMGMT_DATABASE_URL"], name, migrated=False):
        yield name


@pytest.fixture
def desk(database: str) -> Iterator[Desk]:
    app = Desk(
        env={"PERSISTENCE_MODULE": "casemgmt.persistence", "DATABASE_URL": _url_of(database)}
    )
    yield app
    app.close()


def kill_casemgmt_connections(database: str) -> int:
    """Terminate every casemgmt backend of `database`, as a failover or an admin would."""
    with closing(_admin(database)) as admin, admin.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE application_name = 'casemgmt' AND datname = current_database()"
            " AND pid <> pg_backend_pid()"
        )
        return sum(1 for (terminated,) in cursor.fetchall() if terminated)


def open_inquiry(desk: Desk) -> UUID:
    inquiry = Inquiry(subject="Chưa nhận được sổ BHXH")
    desk.save(inquiry)
    return inquiry.id


def test_a_write_after_the_connections_were_killed_succeeds(desk: Desk, database: str) -> None:
    first = open_inquiry(desk)

    assert kill_casemgmt_connections(database) >= 1
    second = open_inquiry(desk)

    assert desk.repository.get(second).subject == "Chưa nhận được sổ BHXH"
    assert [n.originator_id for n in desk.notification_log.select(start=1, limit=10)] == [
        first,
        second,
    ]


def test_a_read_after_the_connections_were_killed_succeeds(desk: Desk, database: str) -> None:
    inquiry_id = open_inquiry(desk)

    assert kill_casemgmt_connections(database) >= 1

    assert desk.repository.get(inquiry_id).subject == "Chưa nhận được sổ BHXH"


def test_a_second_save_of_the_same_version_is_refused(desk: Desk) -> None:
    inquiry_id = open_inquiry(desk)
    current: Inquiry = desk.repository.get(inquiry_id)
    stale: Inquiry = desk.repository.get(inquiry_id)
    current.add_note("called back")
    desk.save(current)

    stale.add_note("written over")
    with pytest.raises(IntegrityError):
        desk.save(stale)

    assert desk.repository.get(inquiry_id).notes == ["called back"]
