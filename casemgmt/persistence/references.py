"""Case references numbered by a PostgreSQL sequence: unique across processes and restarts.

A process takes its numbers from the sequence a block at a time (one round trip for `block`
numbers, `nextval` over a `generate_series`), and takes the next block in a thread of its own when
half of the current one is used, so an intake does not pay a round trip for its reference. A
number given back (a repeated delivery that found its case) is issued next. References stay
unique; they are not gapless (the numbers a process holds when it stops are never issued, as a
failed intake's never were) and, between processes, not in the order the cases were received.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from typing import TYPE_CHECKING, Final

from eventsourcing.persistence import PersistenceError

from casemgmt.application.references import ReferenceNumbers

if TYPE_CHECKING:
    from datetime import datetime

    from casemgmt.persistence.datastore import Datastore

DEFAULT_BLOCK: Final = 100

logger = logging.getLogger(__name__)


class SequenceReferences(ReferenceNumbers):
    """References such as "CC-2026-000001", numbered by `case_reference_seq`."""

    def __init__(
        self, datastore: Datastore, prefix: str = "CC", *, block: int = DEFAULT_BLOCK
    ) -> None:
        if block < 1:
            raise ValueError(f"a block of references holds at least 1 number, not {block}")
        self.datastore = datastore
        self.prefix = prefix
        self.block = block
        self._numbers: deque[int] = deque()
        self._lock = threading.Lock()
        self._refilling = False

    def next_reference(self, received_at: datetime) -> str:
        return f"{self.prefix}-{received_at.year}-{self._next_number():06d}"

    def give_back(self, reference: str) -> None:
        """The reference was not used: issue its number next."""
        number = int(reference.rsplit("-", 1)[-1])
        with self._lock:
            self._numbers.appendleft(number)

    def _next_number(self) -> int:
        with self._lock:
            if not self._numbers:  # the first block, or the refill fell behind
                self._numbers.extend(self._block())
            number = self._numbers.popleft()
            if len(self._numbers) < self.block // 2 and not self._refilling:
                self._refilling = True
                threading.Thread(target=self._refill, name="references", daemon=True).start()
        return number

    def _refill(self) -> None:
        numbers: list[int] = []
        try:
            numbers = self._block()
        except PersistenceError as error:
            # Not lost: the next intake that finds no number left takes a block itself.
            logger.warning("could not take a block of case references: %s", error)
        finally:
            with self._lock:
                self._numbers.extend(numbers)
                self._refilling = False

    def _block(self) -> list[int]:
        rows = self.datastore.execute(
            "SELECT nextval('case_reference_seq') FROM generate_series(1, %s)", [self.block]
        )
        return sorted(number for (number,) in rows)
