"""Group commit: callers writing at the same time in one process share one transaction.

Every write to the application's events table holds the table's EXCLUSIVE lock until it has
committed, so that notification ids become visible in the order they were issued. Written one by
one, concurrent saves therefore queue behind each other's commits and the log grows by one commit
(and one WAL flush) at a time, however many threads are saving. Grouped, while one caller writes,
the others queue their batches, and the next of them to write takes every queued batch and writes
them all at once: one lock, one INSERT, one commit for the lot.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Generic, TypeVar

from eventsourcing.persistence import IntegrityError

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

Item = TypeVar("Item")
Result = TypeVar("Result")


class _Batch(Generic[Item, Result]):
    """One caller's items and, once written, what became of them."""

    def __init__(self, items: Sequence[Item]) -> None:
        self.items = items
        self.results: list[Result] = []
        self.error: BaseException | None = None
        self.done = False

    def outcome(self) -> list[Result]:
        if self.error is not None:
            raise self.error
        return self.results


class GroupCommit(Generic[Item, Result]):
    """Writes the batches of concurrent callers together, and gives each caller its own results.

    `write` must write all the items it is given in one transaction, all or nothing, and return one
    result per item in the same order. The batches of one group are written in the order they
    arrived, each batch's items next to each other. When a group's write fails with IntegrityError,
    some caller's batch conflicts with what is stored, so every batch is written again alone and
    only the conflicting caller sees the error.
    """

    def __init__(self, write: Callable[[Sequence[Item]], Sequence[Result]]) -> None:
        self._write = write
        self._queue: list[_Batch[Item, Result]] = []
        self._writing = False
        self._turn = threading.Condition()

    @property
    def queued(self) -> int:
        """How many callers' batches wait for the next write."""
        with self._turn:
            return len(self._queue)

    def write(self, items: Sequence[Item]) -> list[Result]:
        """Write `items` in one transaction, possibly shared with other callers' items."""
        batch: _Batch[Item, Result] = _Batch(items)
        group: list[_Batch[Item, Result]] = []
        with self._turn:
            self._queue.append(batch)
            while self._writing and not batch.done:
                self._turn.wait()
            if not batch.done:
                group, self._queue = self._queue, []
                self._writing = True
        if group:
            try:
                self._write_group(group)
            finally:
                with self._turn:
                    for written in group:
                        written.done = True
                    self._writing = False
                    self._turn.notify_all()
        return batch.outcome()

    def _write_group(self, group: list[_Batch[Item, Result]]) -> None:
        if len(group) == 1:
            self._write_alone(group[0])
            return
        try:
            results = self._write([item for batch in group for item in batch.items])
        except IntegrityError:
            for batch in group:
                self._write_alone(batch)
            return
        except BaseException as error:
            for batch in group:
                batch.error = error
            return
        start = 0
        for batch in group:
            batch.results = list(results[start : start + len(batch.items)])
            start += len(batch.items)

    def _write_alone(self, batch: _Batch[Item, Result]) -> None:
        try:
            batch.results = list(self._write(batch.items))
        except BaseException as error:
            batch.error = error
