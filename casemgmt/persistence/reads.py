"""The record of who read which case (`case_reads`), written in batches off the request's path.

A read costs the request one append to a list in memory. A thread of the process writes what has
gathered every `interval` seconds, or as soon as `batch_rows` reads wait, as one multi-row INSERT.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Final

from eventsourcing.persistence import PersistenceError

from casemgmt.readmodels.audit_entry import READ_COLUMNS, READS_TABLE

if TYPE_CHECKING:
    from casemgmt.persistence.datastore import Datastore
    from casemgmt.readmodels.audit_entry import CaseRead

logger = logging.getLogger(__name__)

_LONGEST_PAUSE: Final = 5.0  # seconds between attempts while the database does not answer
_TYPES: Final = {"read_at": "timestamptz", "case_id": "uuid"}
_INSERT: Final = (
    f"INSERT INTO {READS_TABLE} ({', '.join(READ_COLUMNS)}) SELECT * FROM unnest("
    + ", ".join(f"%s::{_TYPES.get(column, 'text')}[]" for column in READ_COLUMNS)
    + ")"
)


class ReadRecorder:
    """Keeps the reads of cases in memory and writes them to `case_reads` in batches.

    `close()` (called by `Container.close()`, and in `casemgmt serve` when a worker process exits)
    writes whatever waits, so a clean stop loses no read. What an unclean end (SIGKILL, the OOM
    killer, a power cut) loses is what had not been written yet: the reads of the last `interval`
    seconds (0.2 s) at most while the database answers; while it does not, every read since it
    stopped answering, up to `max_waiting` of them (beyond that the oldest are dropped and logged,
    rather than letting the process run out of memory).
    """

    def __init__(
        self,
        datastore: Datastore,
        *,
        interval: float = 0.2,
        batch_rows: int = 500,
        max_waiting: int = 100_000,
    ) -> None:
        self.datastore = datastore
        self.interval = interval
        self.batch_rows = batch_rows
        self.max_waiting = max_waiting
        self._waiting: list[CaseRead] = []
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._closed = threading.Event()
        self._writer: threading.Thread | None = None

    def record(self, read: CaseRead) -> None:
        """Notes a read; it is written within `interval` seconds."""
        with self._lock:
            self._waiting.append(read)
            waiting = len(self._waiting)
            if self._writer is None and not self._closed.is_set():
                # Started on the first read, in the process that serves: never before a fork.
                self._writer = threading.Thread(
                    target=self._write_continually, name="case-reads", daemon=True
                )
                self._writer.start()
        if waiting >= self.batch_rows:
            self._wake.set()

    def flush(self) -> int:
        """Writes every read that waits, now, in one INSERT; returns how many were written.

        When the write fails (the error is raised) they wait for the next one.
        """
        with self._lock:
            taken, self._waiting = self._waiting, []
        if not taken:
            return 0
        try:
            # Not retried here: a retry after a lost answer could record the reads twice.
            self.datastore.execute(_INSERT, _columns(taken), retries=0)
        except Exception:
            self._put_back(taken)
            raise
        return len(taken)

    def close(self, timeout: float = 10.0) -> None:
        """Stops the writer thread and writes what waits (a failure is logged, not raised)."""
        self._closed.set()
        self._wake.set()
        writer = self._writer
        if writer is not None:
            writer.join(timeout)
        try:
            self.flush()
        except PersistenceError:
            logger.exception("%d reads of cases could not be recorded", self.waiting)

    @property
    def waiting(self) -> int:
        """How many reads wait to be written."""
        with self._lock:
            return len(self._waiting)

    def _write_continually(self) -> None:
        pause = self.interval
        while not self._closed.is_set():
            self._wake.wait(pause)
            self._wake.clear()
            try:
                self.flush()
            except Exception as error:
                # Not at once again: a database that is down would otherwise be hammered.
                pause = min(max(pause * 2, self.interval), _LONGEST_PAUSE)
                logger.warning("recording reads of cases failed, trying again: %s", error)
            else:
                pause = self.interval

    def _put_back(self, reads: list[CaseRead]) -> None:
        with self._lock:
            self._waiting[:0] = reads
            excess = len(self._waiting) - self.max_waiting
            if excess > 0:
                del self._waiting[:excess]
        if excess > 0:
            logger.error("dropped the record of %d reads of cases: the database is away", excess)


def _columns(reads: list[CaseRead]) -> list[list[object]]:
    return [[getattr(read, column) for read in reads] for column in READ_COLUMNS]
