"""The event store rides out killed connections and refuses a second write of the same version."""

from __future__ import annotations

import os
import uuid
from contextlib import ExitStack, closing
from typing import TYPE_CHECKING, Any

import psycopg2
import psycopg2.extensions
import pytest
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event
from eventsourcing.persistence import IntegrityError, OperationalError, StoredEvent, Tracking

from casemgmt.persistence.datastore import ConnectionPool, Datastore
from casemgmt.persistence.recorders import PostgresProcessRecorder
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


class AnswerLostOnce(Datastore):
    """A datastore whose first write commits but whose answer never arrives (a dropped link)."""

    def __init__(self, pool: ConnectionPool, *, schema: str = "public") -> None:
        super().__init__(pool, schema=schema)
        self.answers_to_lose = 1

    def execute(self, query: str, params: Any = None, *, retries: int = 3) -> list[Any]:
        rows = super().execute(query, params, retries=retries)
        if retries == 0 and self.answers_to_lose:
            self.answers_to_lose -= 1
            lost = psycopg2.OperationalError("server closed the connection unexpectedly")
            raise OperationalError(str(lost)) from lost
        return rows


@pytest.fixture
def process_recorder(database: str) -> Iterator[tuple[PostgresProcessRecorder, AnswerLostOnce]]:
    datastore = AnswerLostOnce(ConnectionPool(_url_of(database), size=2))
    recorder = PostgresProcessRecorder(
        datastore, events_table_name="events", tracking_table_name="tracking"
    )
    recorder.create_table()
    yield recorder, datastore
    datastore.close()


def test_events_committed_before_the_answer_was_lost_are_reported_recorded(
    process_recorder: tuple[PostgresProcessRecorder, AnswerLostOnce],
) -> None:
    recorder, _ = process_recorder
    event = StoredEvent(originator_id=uuid.uuid4(), originator_version=1, topic="t", state=b"s")
    assert recorder.insert_events([event]) == [1]
    assert len(recorder.select_events(event.originator_id)) == 1


def test_a_position_committed_before_the_answer_was_lost_is_reported_recorded(
    process_recorder: tuple[PostgresProcessRecorder, AnswerLostOnce],
) -> None:
    recorder, _ = process_recorder
    assert recorder.insert_events([], tracking=Tracking("upstream", 5)) == []
    assert recorder.max_tracking_id("upstream") == 5
    with pytest.raises(IntegrityError):  # a genuinely stale position is still refused
        recorder.insert_events([], tracking=Tracking("upstream", 4))


def test_after_a_restart_one_retry_is_enough_however_many_idle_connections_died(
    database: str,
) -> None:
    pool = ConnectionPool(_url_of(database), size=6)
    datastore = Datastore(pool)
    try:
        with ExitStack() as borrowed:  # six connections in use at once, then idle in the pool
            for _ in range(6):
                borrowed.enter_context(pool.connection())
        assert kill_casemgmt_connections(database) == 6

        assert datastore.execute("SELECT 1", retries=1) == [(1,)]
    finally:
        datastore.close()
