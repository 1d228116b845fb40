"""Notification ids commit in the order they are issued, also when several processes write at once.

A projection follows the log by asking for what comes after the last id it read. Were a lower id to
commit after a higher one was read (a gap filled late), the follower would never see that event.
The application recorder prevents this by taking the events table's EXCLUSIVE lock in every write,
so the next writer draws its ids only once the previous one has committed.
"""

from __future__ import annotations

import multiprocessing
import random
import time
import uuid
from collections import Counter
from contextlib import closing
from dataclasses import dataclass
from typing import TYPE_CHECKING

import psycopg2
import pytest
from eventsourcing.persistence import StoredEvent

from casemgmt.persistence.datastore import ConnectionPool, Datastore
from casemgmt.persistence.recorders import PostgresApplicationRecorder

if TYPE_CHECKING:
    from collections.abc import Iterator
    from multiprocessing.queues import Queue
    from multiprocessing.synchronize import Barrier

    from casemgmt.settings import Settings

    Written = list[tuple[str, int]]

WRITERS = 4
SAVES_PER_WRITER = 80
TABLE = "events"
# Every write lingers a moment between drawing its notification ids and committing, as a write
# does on a busy server. Under the table lock that only slows the writers down; without it, a
# write that drew lower ids regularly commits after one that drew higher ids.
LINGER = """
CREATE FUNCTION {schema}.linger() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_sleep(random() * 0.004);
    RETURN NULL;
END $$;
CREATE TRIGGER linger AFTER INSERT ON {schema}.{table}
    FOR EACH STATEMENT EXECUTE FUNCTION {schema}.linger();
"""


@dataclass(frozen=True)
class Store:
    """Where the test's events table is: a database, and a schema of the test's own in it."""

    database_url: str
    schema: str

    def recorder(self, pool_size: int = 2) -> PostgresApplicationRecorder:
        datastore = Datastore(ConnectionPool(self.database_url, size=pool_size), schema=self.schema)
        return PostgresApplicationRecorder(datastore, events_table_name=TABLE)

    def run(self, statement: str) -> None:
        with closing(psycopg2.connect(self.database_url)) as conn, conn.cursor() as cursor:
            conn.autocommit = True
            cursor.execute(statement)


@pytest.fixture
def store(servers: Settings) -> Iterator[Store]:
    """The application's events table in a schema of its own, whose writes linger."""
    assert servers.database_url is not None
    store = Store(servers.database_url, f"notification_order_{uuid.uuid4().hex[:8]}")
    store.run(f"CREATE SCHEMA {store.schema}")
    try:
        recorder = store.recorder()
        recorder.create_table()
        recorder.datastore.close()
        store.run(LINGER.format(schema=store.schema, table=TABLE))
        yield store
    finally:
        store.run(f"DROP SCHEMA IF EXISTS {store.schema} CASCADE")


def _write_in_child(store: Store, seed: int, start: Barrier, results: Queue[Written]) -> None:
    """A writer process: saves batches of one to three new events, one batch at a time."""
    recorder = store.recorder()
    choose = random.Random(seed)
    written: Written = []
    start.wait(timeout=60)
    try:
        for _ in range(SAVES_PER_WRITER):
            batch = [_stored_event() for _ in range(choose.randint(1, 3))]
            recorder.insert_events(batch)
            written += [(str(event.originator_id), event.originator_version) for event in batch]
    finally:
        results.put(written)
        recorder.datastore.close()


def _stored_event() -> StoredEvent:
    return StoredEvent(
        originator_id=uuid.uuid4(),
        originator_version=1,
        topic="tests:Opened",
        state='{"subject": "Chưa nhận được sổ BHXH"}'.encode(),
    )


def test_table_lock_a_follower_of_the_log_sees_every_event_of_concurrent_writer_processes(
    store: Store,
) -> None:
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(WRITERS + 1)
    results: Queue[Written] = context.Queue()
    writers = [
        context.Process(target=_write_in_child, args=(store, seed, start, results))
        for seed in range(WRITERS)
    ]
    for writer in writers:
        writer.start()
    follower = store.recorder(pool_size=1)
    followed: list[tuple[int, str, int]] = []
    written: Written = []
    try:
        start.wait(timeout=60)
        started = time.monotonic()
        position: int | None = None
        finished = 0
        # Tail the log as a projection does: what comes after the last id read, until the
        # writers are done and one more read finds nothing new.
        while True:
            while not results.empty():
                written += results.get()
                finished += 1
            news = follower.select_notifications(position, 1000, inclusive_of_start=False)
            followed += [(n.id, str(n.originator_id), n.originator_version) for n in news]
            if news:
                position = news[-1].id
            elif finished == WRITERS:
                break
            assert time.monotonic() - started < 60, "the writers did not finish"
        for writer in writers:
            writer.join(10)
            assert writer.exitcode == 0
        everything = follower.select_notifications(None, 1_000_000)
    finally:
        for writer in writers:
            if writer.is_alive():
                writer.kill()
        follower.datastore.close()

    ids = [notification_id for notification_id, _, _ in followed]
    missed = sorted({n.id for n in everything} - set(ids))
    assert not missed, f"ids that committed after a higher id had been read: {missed[:20]}"
    assert ids == sorted(ids)
    assert len(written) >= WRITERS * SAVES_PER_WRITER
    events = Counter((case, version) for _, case, version in followed)
    assert events == Counter(written), "the follower must see every event exactly once"
