"""The record of reads off the request's path: batched writes, nothing lost to a failed write, a
bounded wait while the database is away."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from uuid import uuid4

import pytest
from eventsourcing.persistence import OperationalError

from casemgmt.persistence.datastore import ConnectionPool, Datastore
from casemgmt.persistence.reads import ReadRecorder
from casemgmt.readmodels.audit_entry import CaseRead, ReadView
from tests.support.projections import wait_for

if TYPE_CHECKING:
    from collections.abc import Iterator


class RecordingDatastore(Datastore):
    """Keeps what would have been written; fails the next `failures` writes."""

    def __init__(self, failures: int = 0) -> None:
        super().__init__(ConnectionPool("postgresql://nowhere/none"))
        self.failures = failures
        self.writes: list[list[CaseRead]] = []
        self.lock = threading.Lock()

    def execute(self, query: str, params: Any = None, *, retries: int = 3) -> list[tuple[Any, ...]]:
        assert query.startswith("INSERT INTO case_reads")
        with self.lock:
            if self.failures:
                self.failures -= 1
                raise OperationalError("the database is away")
            self.writes.append([CaseRead(*row) for row in zip(*params, strict=True)])
        return []

    @property
    def written(self) -> list[CaseRead]:
        with self.lock:
            return [read for batch in self.writes for read in batch]


def reads(number: int) -> list[CaseRead]:
    return [
        CaseRead(
            read_at=datetime.now(UTC),
            account=f"agent-{n}",
            role="agent",
            on_behalf_of=None,
            case_id=uuid4(),
            case_reference=f"CC-2026-{n:06d}",
            view=ReadView.HISTORY.value,
            correlation_id=f"req-{n}",
        )
        for n in range(number)
    ]


@pytest.fixture
def store() -> RecordingDatastore:
    return RecordingDatastore()


@pytest.fixture
def recorder(store: RecordingDatastore) -> Iterator[ReadRecorder]:
    made = ReadRecorder(store, interval=3600, batch_rows=100)
    yield made
    made.close()


def test_batching_reads_that_reach_a_batch_are_written_together_in_one_insert(
    store: RecordingDatastore, recorder: ReadRecorder
) -> None:
    given = reads(100)
    for read in given:
        recorder.record(read)

    wait_for(lambda: bool(store.written), timeout=5)  # not the hour-long interval: the batch

    assert store.writes == [given]


def test_batching_a_read_is_written_within_the_interval_without_a_full_batch(
    store: RecordingDatastore,
) -> None:
    recorder = ReadRecorder(store, interval=0.05, batch_rows=1000)
    try:
        (read,) = reads(1)
        recorder.record(read)
        waited = wait_for(lambda: bool(store.written), timeout=5)
    finally:
        recorder.close()
    assert store.writes == [[read]]
    assert waited < 1


def test_flush_on_close_close_writes_what_waits_and_stops_the_writer(
    store: RecordingDatastore, recorder: ReadRecorder
) -> None:
    given = reads(7)
    for read in given:
        recorder.record(read)
    assert (recorder.waiting, store.written) == (7, [])

    recorder.close()

    assert store.writes == [given]
    assert recorder.waiting == 0


def test_reads_of_a_failed_write_wait_for_the_next_one_in_their_order() -> None:
    store = RecordingDatastore(failures=1)
    recorder = ReadRecorder(store, interval=3600, batch_rows=1000)
    first, second = reads(3), reads(2)
    for read in first:
        recorder.record(read)

    with pytest.raises(OperationalError):
        recorder.flush()
    for read in second:
        recorder.record(read)
    recorder.close()

    assert store.written == first + second


def test_while_the_database_is_away_the_oldest_reads_go_beyond_the_bound() -> None:
    store = RecordingDatastore(failures=1)
    recorder = ReadRecorder(store, interval=3600, batch_rows=1000, max_waiting=4)
    given = reads(6)
    for read in given:
        recorder.record(read)

    with pytest.raises(OperationalError):
        recorder.flush()
    recorder.close()

    assert store.written == given[2:]
