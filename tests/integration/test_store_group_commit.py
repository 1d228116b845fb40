"""Saves made at the same time share one transaction, and each caller still gets its own answer."""

from __future__ import annotations

import os
import threading
import time
import uuid
from contextlib import closing
from dataclasses import replace
from typing import TYPE_CHECKING

import psycopg2
import pytest
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event
from eventsourcing.persistence import IntegrityError, OperationalError, StoredEvent

from casemgmt.persistence.datastore import ConnectionPool, Datastore
from casemgmt.persistence.group_commit import GroupCommit
from casemgmt.persistence.recorders import PostgresApplicationRecorder

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence

SCHEMA = f"store_group_commit_{uuid.uuid4().hex[:8]}"  # runs at once must not collide
EVENTS = f"{SCHEMA}.events"


def eventually(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.005)


class Callers:
    """Threads that each write one batch and keep what came of it: results or an error."""

    def __init__(self, write: Callable[[Sequence[object]], list[object]]) -> None:
        self._write = write
        self.outcomes: dict[str, object] = {}
        self._threads: list[threading.Thread] = []

    def start(self, name: str, batch: Sequence[object]) -> None:
        def call() -> None:
            try:
                self.outcomes[name] = self._write(batch)
            except Exception as error:
                self.outcomes[name] = error

        thread = threading.Thread(target=call)
        self._threads.append(thread)
        thread.start()

    def join(self) -> None:
        for thread in self._threads:
            thread.join(timeout=10)


# GroupCommit alone, with a write function that stands in for the database.


class FakeLog:
    """Writes items all or nothing, numbering them; the first write waits until released."""

    def __init__(self, conflicting: object = None, failure: Exception | None = None) -> None:
        self.calls: list[list[object]] = []
        self.released = threading.Event()
        self.conflicting = conflicting
        self.failure = failure
        self.written: list[object] = []

    def write(self, items: Sequence[object]) -> list[int]:
        self.calls.append(list(items))
        if len(self.calls) == 1:
            self.released.wait(timeout=5)
        elif self.failure is not None:
            raise self.failure
        if self.conflicting in items:
            raise IntegrityError(f"{self.conflicting} is already recorded")
        self.written += items
        return [self.written.index(item) + 1 for item in items]


def queue_behind_a_slow_first_write(log: FakeLog, group: GroupCommit[object, int]) -> Callers:
    callers = Callers(group.write)  # type: ignore[arg-type]
    callers.start("first", ["a"])
    eventually(lambda: len(log.calls) == 1)
    callers.start("second", ["b1", "b2"])
    eventually(lambda: group.queued == 1)
    callers.start("third", ["c"])
    eventually(lambda: group.queued == 2)
    log.released.set()
    callers.join()
    return callers


def test_callers_waiting_for_a_write_are_written_together_in_their_order() -> None:
    log = FakeLog()
    group: GroupCommit[object, int] = GroupCommit(log.write)

    callers = queue_behind_a_slow_first_write(log, group)

    assert log.calls == [["a"], ["b1", "b2", "c"]]
    assert callers.outcomes == {"first": [1], "second": [2, 3], "third": [4]}


def test_only_the_conflicting_caller_of_a_group_gets_the_integrity_error() -> None:
    log = FakeLog(conflicting="b2")
    group: GroupCommit[object, int] = GroupCommit(log.write)

    callers = queue_behind_a_slow_first_write(log, group)

    assert log.calls == [["a"], ["b1", "b2", "c"], ["b1", "b2"], ["c"]]
    assert isinstance(callers.outcomes["second"], IntegrityError)
    assert callers.outcomes["third"] == [2]


def test_every_caller_of_a_group_gets_any_other_error_of_its_write() -> None:
    failure = OperationalError("server went away")
    log = FakeLog(failure=failure)
    group: GroupCommit[object, int] = GroupCommit(log.write)

    callers = queue_behind_a_slow_first_write(log, group)

    assert callers.outcomes == {"first": [1], "second": failure, "third": failure}
    assert group.queued == 0


# The application recorder on PostgreSQL.


def _admin() -> psycopg2.extensions.connection:
    conn = psycopg2.connect(os.environ["CASEMGMT_DATABASE_URL"])
    conn.autocommit = True
    return conn


@pytest.fixture
def recorder() -> Iterator[PostgresApplicationRecorder]:
    with closing(_admin()) as admin, admin.cursor() as cursor:
        cursor.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE; CREATE SCHEMA {SCHEMA}")
    datastore = Datastore(
        ConnectionPool(os.environ["CASEMGMT_DATABASE_URL"], size=8), schema=SCHEMA
    )
    recorder = PostgresApplicationRecorder(datastore, events_table_name="events")
    recorder.create_table()
    yield recorder
    datastore.close()
    with closing(_admin()) as admin, admin.cursor() as cursor:
        cursor.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")


def stored_event() -> StoredEvent:
    return StoredEvent(
        originator_id=uuid.uuid4(),
        originator_version=1,
        topic="tests:Opened",
        state='{"subject": "Chưa nhận được sổ BHXH"}'.encode(),
    )


def transactions_of(events: Sequence[StoredEvent]) -> set[str]:
    """The ids of the transactions that wrote these events (PostgreSQL's xmin of their rows)."""
    with closing(_admin()) as admin, admin.cursor() as cursor:
        cursor.execute(
            f"SELECT xmin::text FROM {EVENTS} WHERE originator_id = ANY(%s::uuid[])",
            ([str(e.originator_id) for e in events],),
        )
        return {xmin for (xmin,) in cursor.fetchall()}


def ids_of(events: Sequence[StoredEvent]) -> list[int]:
    with closing(_admin()) as admin, admin.cursor() as cursor:
        cursor.execute(
            f"SELECT notification_id FROM {EVENTS} WHERE originator_id = ANY(%s::uuid[])"
            " ORDER BY notification_id",
            ([str(e.originator_id) for e in events],),
        )
        return [notification_id for (notification_id,) in cursor.fetchall()]


def queue_behind_a_locked_table(
    recorder: PostgresApplicationRecorder, batches: dict[str, list[StoredEvent]]
) -> Callers:
    """Write the first batch while another session holds the table, then queue the others."""
    callers = Callers(recorder.insert_events)  # type: ignore[arg-type]
    with closing(psycopg2.connect(os.environ["CASEMGMT_DATABASE_URL"])) as holder:
        with holder.cursor() as cursor:
            cursor.execute(f"LOCK TABLE {EVENTS} IN EXCLUSIVE MODE")
        (first, first_batch), *others = batches.items()
        callers.start(first, first_batch)
        eventually(lambda: _waits_for_lock(holder))
        for queued, (name, batch) in enumerate(others, start=1):
            callers.start(name, batch)
            eventually(lambda n=queued: recorder.group_commit.queued == n)  # type: ignore[misc]
        holder.commit()
    callers.join()
    return callers


def _waits_for_lock(holder: psycopg2.extensions.connection) -> bool:
    with holder.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_locks WHERE relation = %s::regclass AND NOT granted",
            (EVENTS,),
        )
        (waiting,) = cursor.fetchone() or (0,)
    return bool(waiting)


def test_saves_queued_behind_a_write_commit_in_one_transaction(
    recorder: PostgresApplicationRecorder,
) -> None:
    first, second, third = [stored_event()], [stored_event(), stored_event()], [stored_event()]

    callers = queue_behind_a_locked_table(
        recorder, {"first": first, "second": second, "third": third}
    )

    assert callers.outcomes == {
        "first": ids_of(first),
        "second": ids_of(second),
        "third": ids_of(third),
    }
    assert ids_of(first + second + third) == [1, 2, 3, 4]
    assert len(transactions_of(second + third)) == 1
    assert transactions_of(first) != transactions_of(second)


def test_a_conflicting_save_in_a_group_fails_alone(recorder: PostgresApplicationRecorder) -> None:
    existing = stored_event()
    recorder.insert_events([existing])
    first = [stored_event()]
    conflicting = [stored_event(), replace(existing, state=b"{}")]
    third = [stored_event()]

    callers = queue_behind_a_locked_table(
        recorder, {"first": first, "conflicting": conflicting, "third": third}
    )

    assert isinstance(callers.outcomes["conflicting"], IntegrityError)
    assert callers.outcomes["third"] == ids_of(third)
    assert ids_of(conflicting) == ids_of([existing])
    assert ids_of(first + third) == callers.outcomes["first"] + callers.outcomes["third"]  # type: ignore[operator]


def test_many_threads_saving_at_once_each_get_their_own_contiguous_ids(
    recorder: PostgresApplicationRecorder,
) -> None:
    batches = {f"caller {n}": [stored_event() for _ in range(n % 3 + 1)] for n in range(8)}
    answers: dict[str, list[tuple[list[StoredEvent], list[int]]]] = {name: [] for name in batches}

    def save_repeatedly(name: str) -> None:
        for _ in range(25):
            batch = [stored_event() for _ in batches[name]]
            answers[name].append((batch, list(recorder.insert_events(batch) or [])))

    threads = [threading.Thread(target=save_repeatedly, args=(name,)) for name in batches]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    every_id = []
    for batch, ids in (answer for answers_of_one in answers.values() for answer in answers_of_one):
        assert ids == ids_of(batch)
        assert ids == list(range(ids[0], ids[0] + len(batch)))
        every_id += ids
    assert sorted(every_id) == list(range(1, 1 + sum(25 * len(b) for b in batches.values())))


class Inquiry(Aggregate):
    @event("Opened")
    def __init__(self, subject: str) -> None:
        self.subject = subject

    @event("Replied")
    def reply(self, message: str) -> None:
        self.last_reply = message


def test_of_four_stale_copies_saved_at_once_all_but_one_are_refused() -> None:
    with closing(_admin()) as admin, admin.cursor() as cursor:
        cursor.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE; CREATE SCHEMA {SCHEMA}")
    app: Application[uuid.UUID] = Application(
        env={
            "PERSISTENCE_MODULE": "casemgmt.persistence",
            "DATABASE_URL": os.environ["CASEMGMT_DATABASE_URL"],
            "POSTGRES_SCHEMA": SCHEMA,
        }
    )
    try:
        inquiry = Inquiry(subject="Chưa nhận được sổ BHXH")
        app.save(inquiry)
        copies: list[Inquiry] = [app.repository.get(inquiry.id) for _ in range(4)]
        for n, copy in enumerate(copies):
            copy.reply(f"answer {n}")
        start = threading.Barrier(len(copies))
        refused: list[IntegrityError] = []

        def save(copy: Inquiry) -> None:
            start.wait()
            try:
                app.save(copy)
            except IntegrityError as error:
                refused.append(error)

        threads = [threading.Thread(target=save, args=(copy,)) for copy in copies]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=10)

        assert len(refused) == len(copies) - 1
        assert app.repository.get(inquiry.id).version == 2
    finally:
        app.close()
        with closing(_admin()) as admin, admin.cursor() as cursor:
            cursor.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
