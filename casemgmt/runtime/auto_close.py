"""The auto-closer: closes each resolved case nobody reopened once its auto-close moment comes.

A resolution records a survey request and the moment the case closes by itself (the policy's
`auto_close_after`, in working days of the unit's calendar). One auto-closer is active across every
worker process (a PostgreSQL advisory lock, as for the SLA timer); the others stand by. It polls the
case list for resolved cases past that moment (`queries/auto_close.py`) and asks
`CareCentre.auto_close` to close each: the case decides (it is still resolved, the moment has come)
and optimistic concurrency lets one close win, so each case is closed once, whichever process or
restart asks twice. The `Closed` event names the system actor and the rule (`rule:auto-close`).
"""

from __future__ import annotations

import logging
import uuid
from typing import TYPE_CHECKING, Final

from casemgmt.domain import Actor, Context, Role
from casemgmt.queries.auto_close import auto_close_due
from casemgmt.runtime.due_cases import DueCasesRunner

if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import datetime
    from uuid import UUID

    from casemgmt.application import CareCentre
    from casemgmt.persistence.datastore import Datastore
    from casemgmt.runtime.log import EventLog

logger = logging.getLogger(__name__)

AUTO_CLOSER: Final = Actor("auto-closer", Role.SYSTEM)
CAUSE: Final = "rule:auto-close"
# How many due cases one poll takes on; the rest are taken by the next poll, at once.
BATCH: Final = 200


class AutoCloser(DueCasesRunner):
    """Polls for resolved cases due to close by themselves and closes them, holding its lock."""

    name: Final = "auto_close"
    lock_name: Final = "casemgmt:auto-close"

    def __init__(
        self,
        care_centre: CareCentre,
        datastore: Datastore,
        log: EventLog,
        *,
        clock: Callable[[], datetime],
        poll_seconds: float = 1.0,
        lock_retry_seconds: float = 1.0,
    ) -> None:
        self.care_centre = care_centre
        self.datastore = datastore
        self.clock = clock
        self.closed = 0  # cases this auto-closer closed (for tests and logs)
        super().__init__(log, poll_seconds=poll_seconds, lock_retry_seconds=lock_retry_seconds)

    def close_due(self) -> int:
        """Closes every case due now (up to a batch); returns how many this call closed."""
        return self.poll()[1]

    def due(self) -> list[tuple[UUID, datetime]]:
        return auto_close_due(self.datastore, self.clock(), BATCH)

    def handle(self, case_ids: list[UUID]) -> int:
        ctx = Context(AUTO_CLOSER, self.clock(), f"auto-close-{uuid.uuid4()}", CAUSE)
        closed = 0
        for case_id in case_ids:
            try:
                closed += self.care_centre.auto_close(case_id, ctx)
            except Exception:  # one case must not keep the others open
                self.ask_again(case_id)
                logger.exception("auto-close: cannot close case %s", case_id)
        if closed:
            logger.info("auto-close: %d resolved cases closed", closed)
        self.closed += closed
        return closed
