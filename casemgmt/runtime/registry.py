"""The care centre's projections by name: how far each is, rebuilding one, running them.

Most follow the care centre's log of case events; `active_care` follows the sessions' own log
(`caresessions_events`). A position is a notification id of the log the projection follows, so
how far behind a projection is, or whether it caught up, is measured against that log's head.

`build_projections(...)` is what `casemgmt serve`, `casemgmt worker`, `casemgmt rebuild` and
`/health` use.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from casemgmt.domain.routing import DEFAULT_ROUTING
from casemgmt.persistence.locks import lock_holders
from casemgmt.persistence.shredding import RequesterKeys
from casemgmt.projections.active_care import ActiveCareProjection
from casemgmt.projections.analysis import AnalysisTables, unit_calendars
from casemgmt.projections.audit_log import AuditLogProjection
from casemgmt.projections.case_list import CaseListProjection
from casemgmt.projections.reports import ReportProjection
from casemgmt.projections.work_queues import WorkQueueProjection
from casemgmt.readmodels.work_queue_layout import DEFAULT_KEY_PREFIX
from casemgmt.runtime.auto_close import AutoCloser
from casemgmt.runtime.log import EventLog
from casemgmt.runtime.runner import DEFAULT_BATCH_SIZE, ProjectionWorker
from casemgmt.runtime.sla_timer import SlaTimer

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator, Mapping
    from datetime import datetime

    import redis

    from casemgmt.application import CareCentre
    from casemgmt.application.sessions import CareSessions
    from casemgmt.domain.routing import RoutingRules
    from casemgmt.persistence.datastore import Datastore
    from casemgmt.projections.base import Progress, Projection

REBUILD_BATCH_SIZE = 2000


class UnknownProjection(LookupError):  # noqa: N818 -- names read as what happened
    """No projection has this name; the message lists the names there are."""

    def __init__(self, name: str, names: Iterable[str]) -> None:
        super().__init__(f"no projection is named {name!r}; there are: {', '.join(names)}")
        self.name = name


class Projections:
    """The projections that follow the care centre's event log, `log`, and those that follow
    another (`logs`, by projection name)."""

    def __init__(
        self,
        log: EventLog,
        projections: Iterable[Projection[Any]],
        datastore: Datastore,
        *,
        timer: Callable[[], SlaTimer] | None = None,
        closer: Callable[[], AutoCloser] | None = None,
        logs: Mapping[str, EventLog[Any]] | None = None,
    ):
        self.log = log
        self.datastore = datastore
        self.timer = timer  # makes the SLA timer a worker runs beside the projections
        self.closer = closer  # makes the auto-closer of resolved cases, run the same way
        self._by_name = {projection.name: projection for projection in projections}
        self._logs = dict(logs or {})

    def log_of(self, name: str) -> EventLog[Any]:
        """The log projection `name` follows."""
        if name not in self._by_name:
            raise UnknownProjection(name, self._by_name)
        return self._logs.get(name, self.log)

    @property
    def names(self) -> list[str]:
        return list(self._by_name)

    def __getitem__(self, name: str) -> Projection[Any]:
        try:
            return self._by_name[name]
        except KeyError:
            raise UnknownProjection(name, self._by_name) from None

    def __iter__(self) -> Iterator[Projection[Any]]:
        return iter(self._by_name.values())

    def positions(self, names: Iterable[str] | None = None) -> dict[str, int | None]:
        """Where each projection's store says it is (None: never started)."""
        chosen = self.names if names is None else list(names)
        return {name: self[name].position() for name in chosen}

    def heads(
        self, names: Iterable[str] | None = None, notification_id: int | None = None
    ) -> dict[str, int]:
        """The head of the log each projection (all, or those named) follows, as it is now.

        With `notification_id`, the projections of the care centre's log get that instead of
        its head (a position a caller wrote up to); the others get their own log's head.
        """
        chosen = self.names if names is None else list(names)
        found: dict[EventLog[Any], int] = {}  # each log's head, read once
        if notification_id is not None:
            found[self.log] = notification_id
        heads = {}
        for name in chosen:
            log = self.log_of(name)
            if log not in found:
                found[log] = log.head()
            heads[name] = found[log]
        return heads

    def lag(self) -> dict[str, int]:
        """How many notifications each projection is behind its log's head (for `/health`)."""
        heads = self.heads()
        return {name: max(0, heads[name] - (at or 0)) for name, at in self.positions().items()}

    def caught_up(
        self, notification_id: int | None = None, names: Iterable[str] | None = None
    ) -> bool:
        """Whether the projections (all, or those named) have written `notification_id` of the
        care centre's log, and the projections of another log that log's head.

        Without a notification id: the head of each log as it is now.
        """
        return self._caught_up(self.heads(names, notification_id))

    def _caught_up(self, targets: Mapping[str, int]) -> bool:
        at = self.positions(targets)
        return all((at[name] or 0) >= target for name, target in targets.items())

    def wait_until_caught_up(
        self,
        notification_id: int | None = None,
        names: Iterable[str] | None = None,
        *,
        timeout: float = 10.0,
    ) -> bool:
        """Waits until `caught_up(…)` with the heads as they are when called; False when
        `timeout` seconds pass first."""
        targets = self.heads(names, notification_id)
        deadline = time.monotonic() + timeout
        while not self._caught_up(targets):
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.01)
        return True

    def holders(self) -> dict[str, str]:
        """Which worker process ("pid@host") is processing each projection now."""
        locks = {projection.lock_name: name for name, projection in self._by_name.items()}
        return {locks[lock]: holder for lock, holder in lock_holders(self.datastore, locks).items()}

    def rebuild(
        self,
        name: str,
        *,
        progress: Progress | None = None,
        batch_size: int = REBUILD_BATCH_SIZE,
    ) -> int:
        """Recreates projection `name` from the whole log while readers keep reading.

        Returns the number of notifications replayed; `progress(done, total)` follows it.
        """
        return self[name].rebuild(self.log_of(name), progress=progress, batch_size=batch_size)

    def worker(
        self,
        names: Iterable[str] | None = None,
        *,
        batch_size: int = DEFAULT_BATCH_SIZE,
        lock_retry_seconds: float = 1.0,
    ) -> ProjectionWorker:
        """A worker for these projections and the SLA timer (all by default); `start()` it,
        `stop()` it. `names` may name the timer, `sla_timer`, as well as projections."""
        wanted = self.runner_names if names is None else list(names)
        makers = {SlaTimer.name: self.timer, AutoCloser.name: self.closer}
        others = [make() for name, make in makers.items() if make is not None and name in wanted]
        chosen = [self[name] for name in wanted if name not in makers or makers[name] is None]
        return ProjectionWorker(
            self.log,
            chosen,
            batch_size=batch_size,
            lock_retry_seconds=lock_retry_seconds,
            others=others,
            logs={name: self.log_of(name) for name in self._logs if name in wanted},
        )

    @property
    def runner_names(self) -> list[str]:
        """What a worker can run: every projection, the SLA timer and the auto-closer."""
        return [
            *self.names,
            *([SlaTimer.name] if self.timer is not None else []),
            *([AutoCloser.name] if self.closer is not None else []),
        ]

    def check_runner(self, name: str) -> None:
        """Refuses a name that is neither a projection nor the SLA timer, naming those there are."""
        if name not in self.runner_names:
            raise UnknownProjection(name, self.runner_names)


def build_projections(
    care_centre: CareCentre,
    datastore: Datastore,
    redis_client: redis.Redis[bytes],
    *,
    clock: Callable[[], datetime],
    routing: RoutingRules = DEFAULT_ROUTING,
    key_prefix: str = DEFAULT_KEY_PREFIX,
    policy_fingerprint: str | None = None,
    care_sessions: CareSessions | None = None,
) -> Projections:
    """The care centre's projections: the case list, the action log and the reports in
    PostgreSQL, the work queues in Redis. The reports count working time in the calendars of the
    care centre's SLA policy and know requesters by the keyed hash their keys are found by.
    With `care_sessions`, active care in the reports too (`active_care`, following its log)."""
    log = EventLog.of(care_centre)
    analysis = AnalysisTables(
        unit_calendars(care_centre.sla_policy), RequesterKeys(datastore).requester_hash
    )
    projections: list[Projection[Any]] = [
        CaseListProjection(datastore, routing),
        WorkQueueProjection(redis_client, routing, clock=clock, key_prefix=key_prefix),
        AuditLogProjection(datastore),
        ReportProjection(datastore, analysis),
    ]
    logs: dict[str, EventLog[Any]] = {}
    if care_sessions is not None:
        active_care = ActiveCareProjection(datastore)
        projections.append(active_care)
        logs[active_care.name] = EventLog.of_sessions(care_sessions)
    return Projections(
        log,
        projections,
        datastore,
        logs=logs,
        timer=lambda: SlaTimer(
            care_centre, datastore, log, clock=clock, policy_fingerprint=policy_fingerprint
        ),
        closer=lambda: AutoCloser(care_centre, datastore, log, clock=clock),
    )
