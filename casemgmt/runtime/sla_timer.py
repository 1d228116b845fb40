"""The SLA timer: records each warning and breach on its case as it falls due.

One timer is active across every worker process (a PostgreSQL advisory lock, as for projections);
the others stand by. It polls the case list for the cases whose next alarm is due
(`queries/sla.py`) and asks `CareCentre.check_sla` to record it: the case records each alarm once,
whatever fires twice, so a timer that restarts, a second timer, or an alarm seen again before the
case list caught up records nothing more. After a crash the case list still holds every pending
alarm (it is rebuilt from the events), so breaches that fell due meanwhile are recorded late, with
their true deadline and by how much it was passed. When it becomes active under a policy other
than the one last applied to the open cases, it first recomputes their clocks (as `casemgmt sla
apply` does), so a changed policy file takes effect at start-up.
"""

from __future__ import annotations

import logging
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Final

from casemgmt.domain import Actor, Context, Role
from casemgmt.persistence.policy_applied import applied_policy, record_applied_policy
from casemgmt.queries.case_ids import count_cases
from casemgmt.queries.clock_inputs import kept_clocks
from casemgmt.queries.sla import alarms_due
from casemgmt.runtime.due_cases import DueCasesRunner

if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import datetime
    from uuid import UUID

    from casemgmt.application import CareCentre
    from casemgmt.application.care_centre import ClockChanges
    from casemgmt.domain.clock_keeping import KeptClocks
    from casemgmt.persistence.datastore import Datastore
    from casemgmt.persistence.locks import ProjectionLock
    from casemgmt.projections.base import Progress
    from casemgmt.runtime.log import EventLog

logger = logging.getLogger(__name__)

TIMER: Final = Actor("sla-timer", Role.SYSTEM)
# Cases whose clocks a new policy or calendar can still move.
OPEN_STATUSES: Final = ["received", "triaged", "in_progress", "awaiting_citizen"]
# How many due alarms one poll takes on; the rest are taken by the next poll, at once.
BATCH: Final = 500
# How many cases are read in one query and saved in one transaction.
CHUNK: Final = 100
# How many open cases `apply_policy_to_open_cases` recomputes from the case list at a time.
APPLY_PAGE: Final = 1000


class SlaTimer(DueCasesRunner):
    """Polls for due SLA alarms and records them, while holding the timer's lock."""

    name: Final = "sla_timer"
    lock_name: Final = "casemgmt:sla-timer"

    def __init__(
        self,
        care_centre: CareCentre,
        datastore: Datastore,
        log: EventLog,
        *,
        clock: Callable[[], datetime],
        policy_fingerprint: str | None = None,
        poll_seconds: float = 0.2,
        lock_retry_seconds: float = 1.0,
    ) -> None:
        self.care_centre = care_centre
        self.datastore = datastore
        self.clock = clock
        self.policy_fingerprint = policy_fingerprint
        self.recorded = 0  # alarms this timer recorded (for tests and logs)
        super().__init__(log, poll_seconds=poll_seconds, lock_retry_seconds=lock_retry_seconds)

    def work(self, lock: ProjectionLock) -> None:
        self.apply_changed_policy()
        super().work(lock)

    def fire_due(self) -> int:
        """Records every alarm due now (up to a batch); returns how many were recorded."""
        return self.poll()[1]

    def due(self) -> list[tuple[UUID, datetime]]:
        return alarms_due(self.datastore, self.clock(), BATCH)

    def handle(self, case_ids: list[UUID]) -> int:
        recorded = 0
        for start in range(0, len(case_ids), CHUNK):
            recorded += self._record_alarms(case_ids[start : start + CHUNK])
        self.recorded += recorded
        return recorded

    def _record_alarms(self, case_ids: list[UUID]) -> int:
        ctx = Context(TIMER, self.clock(), f"sla-{uuid.uuid4()}", "timer:sla")
        try:
            return sum(self.care_centre.check_sla_of(case_ids, ctx).values())
        except Exception:  # one case must not stop the others' alarms: each on its own
            logger.warning("SLA timer: a batch of %d cases failed; one by one", len(case_ids))
        recorded = 0
        for case_id in case_ids:
            try:
                recorded += self.care_centre.check_sla(case_id, ctx)
            except Exception:
                self.ask_again(case_id)
                logger.exception("SLA timer: cannot record the alarms of case %s", case_id)
        return recorded

    def apply_changed_policy(self) -> int:
        """Recomputes every open case's clocks when the policy differs from the one last applied
        (a new file, a holiday declared, a new holidays release); returns the cases changed."""
        policy = self.care_centre.sla_policy
        fingerprint = self.policy_fingerprint
        if policy is None or fingerprint is None or applied_policy(self.datastore) == fingerprint:
            return 0
        ctx = Context(TIMER, self.clock(), f"sla-apply-{uuid.uuid4()}", "rule:sla-apply")
        done, changed = apply_policy_to_open_cases(
            self.care_centre, self.datastore, ctx, between=self.fire_due
        )
        record_applied_policy(self.datastore, fingerprint, policy.version, ctx.at)
        logger.info(
            "SLA policy %s applied: %d of %d open cases changed", policy.version, changed, done
        )
        return changed


def apply_policy_to_open_cases(
    care_centre: CareCentre,
    datastore: Datastore,
    ctx: Context,
    *,
    progress: Progress | None = None,
    between: Callable[[], object] | None = None,
    page: int = APPLY_PAGE,
) -> tuple[int, int]:
    """Recomputes the clocks of every open case under the policy in force (a holiday declared at
    short notice, a new target); each case that moved records why. Returns (cases, changed).

    Cases go a page at a time: their clocks as the case list keeps them, recomputed without
    loading the cases (`CareCentre.clock_changes_of`) and saved in one transaction
    (`save_clock_changes`; a case the list is behind on is done from its events). A case that
    cannot be changed (it vanished, it keeps losing races) is logged and passed over: one case
    must not stop the others.

    Without `between`, one page is saved while the next is read and worked out: the save mostly
    waits on the database, which lets the interpreter work meanwhile. `between` is called after
    each page is saved, before the next is worked out (the timer records the alarms that fell
    due meanwhile; recorded while a page is saved, they would make its cases' versions stale).
    """
    total = count_cases(datastore, statuses=OPEN_STATUSES)
    done = changed = 0

    def saved(saving: Future[int], cases: int) -> None:
        """The page is saved: it counts as done (progress tells only of saved pages)."""
        nonlocal done, changed
        changed += saving.result()
        done += cases
        if progress is not None:
            progress(done, max(total, done))

    with ThreadPoolExecutor(1, thread_name_prefix="sla-apply-save") as saver:
        in_flight: tuple[Future[int], int] | None = None
        for cases in kept_clocks(datastore, statuses=OPEN_STATUSES, page=page):
            changes = _changes_of(care_centre, cases, ctx)
            if in_flight is not None:
                saved(*in_flight)
            in_flight = (saver.submit(_save, care_centre, cases, changes, ctx), len(cases))
            if between is not None:
                saved(*in_flight)
                in_flight = None
                between()
        if in_flight is not None:
            saved(*in_flight)
    return done, changed


def _changes_of(
    care_centre: CareCentre, page: list[KeptClocks], ctx: Context
) -> ClockChanges | None:
    """The page's changes, worked out; None if that failed (its cases are then done one by one)."""
    try:
        return care_centre.clock_changes_of(page, ctx)
    except Exception:
        logger.warning(
            "SLA policy: cannot work out a page of %d cases; one by one", len(page), exc_info=True
        )
        return None


def _save(
    care_centre: CareCentre, page: list[KeptClocks], changes: ClockChanges | None, ctx: Context
) -> int:
    """Saves the page's changes; returns how many cases changed."""
    if changes is not None:
        try:
            return care_centre.save_clock_changes(changes, ctx)
        except Exception:
            logger.warning(
                "SLA policy: cannot save a page of %d cases; one by one", len(page), exc_info=True
            )
    return _one_by_one(care_centre, page, ctx)


def _one_by_one(care_centre: CareCentre, page: list[KeptClocks], ctx: Context) -> int:
    """Applies the policy to each case of a page from its events; returns how many changed."""
    changed = 0
    for case_id in (case.case_id for case in page):
        try:
            changed += care_centre.apply_sla_policy(case_id, ctx) > 0
        except Exception:
            logger.exception("SLA policy: cannot recompute the clocks of case %s", case_id)
    return changed
