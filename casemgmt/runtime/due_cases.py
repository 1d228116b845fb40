"""An elected runner that polls the case list for cases whose moment has come and handles each.

The SLA timer (alarms due) and the auto-closer (resolved cases due to close) are both such a
runner: one is active across every worker process, it polls a query for `(case id, moment)` pairs
due now, and hands the new ones to the application, which decides on the case itself and records
at most once. A case asked already whose case-list row has not caught up with the answer yet is
not asked again (asking would record nothing, but cost a load); while new cases keep coming it
polls again at once, otherwise every `poll_seconds`.
"""

from __future__ import annotations

from abc import abstractmethod
from typing import TYPE_CHECKING

from casemgmt.runtime.election import ElectedRunner

if TYPE_CHECKING:
    from datetime import datetime
    from uuid import UUID

    from casemgmt.persistence.locks import ProjectionLock
    from casemgmt.runtime.log import EventLog


class DueCasesRunner(ElectedRunner):
    """Polls for due cases and handles the new ones, while holding its lock."""

    def __init__(
        self, log: EventLog, *, poll_seconds: float, lock_retry_seconds: float = 1.0
    ) -> None:
        self.poll_seconds = poll_seconds
        self._seen: dict[UUID, datetime] = {}
        super().__init__(log, lock_retry_seconds=lock_retry_seconds)

    @abstractmethod
    def due(self) -> list[tuple[UUID, datetime]]:
        """The cases due now, each with the moment it is due for (up to a batch)."""

    @abstractmethod
    def handle(self, case_ids: list[UUID]) -> int:
        """Handles cases due that were not asked yet; returns what it recorded. A case that
        could not be handled is given to `ask_again`."""

    def work(self, lock: ProjectionLock) -> None:
        while not self.stopping.is_set():
            lock.check()
            if not self.poll()[0]:  # nothing new was due: wait for the next poll
                self.stopping.wait(self.poll_seconds)

    def poll(self) -> tuple[int, int]:
        """Handles the cases due now; returns (cases asked, what was recorded)."""
        due = self.due()
        new = [case_id for case_id, moment in due if self._seen.get(case_id) != moment]
        self._seen = dict(due)  # a case no longer due is forgotten
        return len(new), self.handle(new) if new else 0

    def ask_again(self, case_id: UUID) -> None:
        """The case is asked again at the next poll, even if the case list did not change."""
        self._seen.pop(case_id, None)
