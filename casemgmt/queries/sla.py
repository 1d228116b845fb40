"""SLA questions answered from the case list: which alarms fall due (for the timer), and which
clocks are breached or at risk at a moment (the SLA lists, the queues' and the case list's
`at_risk`, the metrics).

How a clock stands is read from its row alone (`<clock>_due`, `_warning_at`, `_state` and the
`<clock>_breached` flag) and is declared once here: as SQL conditions for the queries, and as
functions of a row already read.

* **At risk** at `now`: the clock runs and its warning instant has passed but its deadline has not
  (`warning_at <= now < due`).
* **Breached** at `now`, for an open case: the deadline has passed and the clock runs on past it,
  whether or not the SLA timer has recorded the breach yet; or it was paused after a recorded
  breach; or it stopped late (a first response given after its deadline). The case list's
  `<clock>_state` is running, paused, met or breached (stopped late); a running clock's recorded
  breach is its `<clock>_breached` flag.
* A case's **due**: the nearest deadline of its clocks that run (on time or past the deadline)
  while it is open; the queues order by the same deadline (`work_queue_layout.due_at`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from casemgmt.domain import InvalidCommand, Status
from casemgmt.domain.sla import ClockName, ClockState
from casemgmt.readmodels.case_summary import TABLE
from casemgmt.readmodels.work_queue_layout import WAITING_FOR_AGENT

if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import datetime
    from uuid import UUID

    from casemgmt.persistence.datastore import Datastore
    from casemgmt.readmodels.case_summary import CaseSummary

# A piece of a WHERE clause and the values of its placeholders.
Condition = tuple[str, list[Any]]

CLOCKS: Final = tuple(clock.value for clock in ClockName)
OPEN_STATUSES: Final = tuple(
    status.value
    for status in Status
    if status not in (Status.RESOLVED, Status.CLOSED, Status.MERGED)
)


def _listed(values: Iterable[str]) -> str:
    """Constants of the code (statuses, states) as an SQL list; never a caller's values."""
    return ", ".join(f"'{value}'" for value in sorted(values))


_OPEN: Final = f"status IN ({_listed(OPEN_STATUSES)})"
_WAITING: Final = f"status IN ({_listed(WAITING_FOR_AGENT)}) AND assignee IS NULL"
_RUNS: Final = f"IN ({_listed([ClockState.RUNNING])})"


def alarms_due(datastore: Datastore, now: datetime, limit: int) -> list[tuple[UUID, datetime]]:
    """Cases with an SLA warning or breach due by `now`, the most overdue first."""
    rows = datastore.execute(
        f"SELECT case_id, next_sla_alarm_at FROM {TABLE}"
        " WHERE next_sla_alarm_at <= %s ORDER BY next_sla_alarm_at LIMIT %s",
        [now, limit],
    )
    return [(case_id, at) for case_id, at in rows]


# -- how a clock stands: in SQL ------------------------------------------------------------------


def at_risk_sql(clock: str, now: datetime) -> Condition:
    """The clock runs, its warning instant has passed, its deadline has not (NULL: no clock)."""
    return (
        f"({clock}_state = 'running' AND {clock}_warning_at <= %s AND {clock}_due > %s)",
        [now, now],
    )


def breached_sql(clock: str, now: datetime) -> Condition:
    """The case is open and the clock stopped late, or its deadline has passed with the clock
    running on past it or paused after a recorded breach."""
    return (
        f"({_OPEN} AND ({clock}_state = 'breached' OR {clock}_due <= %s AND ({clock}_state {_RUNS}"
        f" OR ({clock}_state = 'paused' AND {clock}_breached))))",
        [now],
    )


def any_of(conditions: Sequence[Condition]) -> Condition:
    return (
        f"({' OR '.join(sql for sql, _ in conditions)})",
        [value for _, values in conditions for value in values],
    )


def case_at_risk_sql(now: datetime) -> Condition:
    """A clock of the case is at risk at `now`."""
    return any_of([at_risk_sql(clock, now) for clock in CLOCKS])


def _running_due(clock: str) -> str:
    return f"CASE WHEN {_OPEN} AND {clock}_state {_RUNS} THEN {clock}_due END"


# The case's nearest running deadline; NULL when no clock runs (LEAST passes over NULLs).
NEAREST_DUE_SQL: Final = f"LEAST({', '.join(_running_due(clock) for clock in CLOCKS)})"


# -- how a clock stands: of a row already read ---------------------------------------------------


def clock_state_at(summary: CaseSummary, clock: str, now: datetime) -> str | None:
    """The clock's state at `now` (None: it never started); one running past its deadline is
    breached, whether or not the timer has recorded it yet, as `GET /cases/{id}` shows it."""
    state, _, due = _clock_of(summary, clock)
    if state == ClockState.RUNNING and due is not None and due <= now:
        return ClockState.BREACHED.value
    return state


def is_at_risk(summary: CaseSummary, now: datetime) -> bool:
    """Whether a clock of the case is at risk at `now`: `case_at_risk_sql` for a row in hand."""
    return any(_clock_at_risk(*_clock_of(summary, clock), now) for clock in CLOCKS)


def _clock_at_risk(
    state: str | None, warning_at: datetime | None, due: datetime | None, now: datetime
) -> bool:
    if state != ClockState.RUNNING or warning_at is None or due is None:
        return False
    return warning_at <= now < due


def _clock_of(
    summary: CaseSummary, clock: str
) -> tuple[str | None, datetime | None, datetime | None]:
    return (
        getattr(summary, f"{clock}_state"),
        getattr(summary, f"{clock}_warning_at"),
        getattr(summary, f"{clock}_due"),
    )


# -- the lists of breached and at-risk clocks, and the queues' counts ------------------------------


@dataclass(frozen=True)
class CaseClock:
    """An SLA clock of a case, with what the lists of breaches and at-risk clocks show of it."""

    case_id: UUID
    reference: str
    subject: str
    status: str
    priority: str
    channel: str
    unit: str | None
    queue: str | None
    assignee: str | None
    clock: str
    due: datetime


_CASE_COLUMNS: Final = (
    "case_id",
    "reference",
    "subject",
    "status",
    "priority",
    "channel",
    "unit",
    "queue",
    "assignee",
)
Values = Sequence[str] | None


def breached_clocks(
    datastore: Datastore,
    now: datetime,
    *,
    unit: Values = None,
    queue: Values = None,
    clock: Values = None,
    channel: Values = None,
    page: int = 1,
    per_page: int = 25,
) -> tuple[list[CaseClock], int]:
    """One page of the clocks of open cases breached at `now`, the most overdue first, and how
    many there are in all. A case with both clocks breached is listed once for each."""
    filters = {"unit": unit, "queue": queue, "channel": channel}
    return _clocks(
        datastore, breached_sql, now, filters=filters, clocks=clock, page=page, per_page=per_page
    )


def clocks_at_risk(
    datastore: Datastore,
    now: datetime,
    *,
    unit: Values = None,
    queue: Values = None,
    clock: Values = None,
    channel: Values = None,
    page: int = 1,
    per_page: int = 25,
) -> tuple[list[CaseClock], int]:
    """One page of the clocks at risk at `now`, the soonest due first, and how many there are."""
    filters = {"unit": unit, "queue": queue, "channel": channel}
    return _clocks(
        datastore, at_risk_sql, now, filters=filters, clocks=clock, page=page, per_page=per_page
    )


def _clocks(
    datastore: Datastore,
    standing: Callable[[str, datetime], Condition],
    now: datetime,
    *,
    filters: dict[str, Values],
    clocks: Values,
    page: int,
    per_page: int,
) -> tuple[list[CaseClock], int]:
    """The clocks in `standing` at `now` of the cases that match every filter given, a page of
    them, ordered by deadline (then case and clock, so that pages neither repeat nor skip)."""
    for name, number in (("page", page), ("per_page", per_page)):
        if number < 1:
            raise InvalidCommand(name, "must be at least 1")
    matches = [(column, list(v)) for column, v in filters.items() if v is not None]
    selects, params = [], []
    for name in CLOCKS:
        if clocks is not None and name not in clocks:
            continue
        where, values = standing(name, now)
        for column, accepted in matches:
            where, values = f"{where} AND {column} = ANY(%s)", [*values, accepted]
        # `name` is one of CLOCKS, a constant of the code.
        selects.append(
            f"SELECT {', '.join(_CASE_COLUMNS)}, '{name}' AS clock, {name}_due AS due"
            f" FROM {TABLE} WHERE {where}"
        )
        params += values
    if not selects:
        return [], 0
    found = f"({' UNION ALL '.join(selects)}) AS found"
    offset = (page - 1) * per_page
    rows = datastore.execute(
        f"SELECT *, count(*) OVER () FROM {found} ORDER BY due, case_id, clock LIMIT %s OFFSET %s",
        [*params, per_page, offset],
    )
    if rows:
        return [CaseClock(*row[:-1]) for row in rows], int(rows[0][-1])
    if page == 1:
        return [], 0
    return [], int(datastore.execute(f"SELECT count(*) FROM {found}", params)[0][0])


def at_risk_by_queue(datastore: Datastore, now: datetime) -> dict[str, int]:
    """Per queue, how many of the cases waiting in it have a clock at risk or breached at `now`
    (queues with none are left out).

    Counted in PostgreSQL, not from the queues' Redis state: there each case's clocks sit inside
    its JSON state, so a count would read and decode the state of every waiting case on every
    overview (or block Redis while a script did), whereas the case list answers with one indexed
    aggregate, by the same conditions as the SLA lists and the metrics. The price: the count comes
    from the other projection, so for a moment after a change it may disagree with the queue's
    size, and a case parked by a claim in flight still counts.
    """
    sql, params = any_of(
        [standing(clock, now) for clock in CLOCKS for standing in (at_risk_sql, breached_sql)]
    )
    rows = datastore.execute(
        f"SELECT queue, count(*) FROM {TABLE}"
        f" WHERE queue IS NOT NULL AND {_WAITING} AND {sql} GROUP BY queue",
        params,
    )
    return {queue: int(count) for queue, count in rows}
