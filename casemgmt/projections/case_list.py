"""The case list: one row per case in `case_summaries`, written together with its position.

A batch is written as one multi-statement query (one implicit transaction): first the position
moves from where this writer expects it to the batch's last notification, then every changed row
is upserted. When the position is not where expected, `casemgmt_refuse_projection_position` raises
and nothing is written, so a crash or a second writer can neither skip nor double an event.
"""

from __future__ import annotations

import logging
from contextlib import closing
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from eventsourcing.persistence import IntegrityError

from casemgmt.domain import Case
from casemgmt.domain.routing import DEFAULT_ROUTING
from casemgmt.domain.sla import ClockName
from casemgmt.projections.base import PositionMoved, Projection, replay
from casemgmt.projections.summaries import evolve, words_added
from casemgmt.readmodels.case_summary import COLUMNS, TABLE, CaseSummary
from casemgmt.readmodels.text import fold

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence
    from uuid import UUID

    from casemgmt.domain.routing import RoutingRules
    from casemgmt.persistence.datastore import Datastore
    from casemgmt.projections.base import Progress
    from casemgmt.runtime.log import Batch, EventLog

    Run = Callable[[str, Sequence[Any]], list[tuple[Any, ...]]]

logger = logging.getLogger(__name__)

# PostgreSQL refuses a tsvector over 1 MB, which would stop the projection at that event for good;
# the first hundred thousand characters of a case (subject, body, early messages) are plenty.
MAX_SEARCH_TEXT: Final = 100_000
CLOCKS: Final = tuple(clock.value for clock in ClockName)
_TYPES: Final = {
    "case_id": "uuid",
    "escalation_level": "integer",
    "received_at": "timestamptz",
    "first_replied_at": "timestamptz",
    "resolved_at": "timestamptz",
    "closed_at": "timestamptz",
    "merged_into": "uuid",
    "first_response_breached": "boolean",
    "resolution_breached": "boolean",
    "last_activity_at": "timestamptz",
    "version": "bigint",
    **{
        f"{clock}_{moment}": "timestamptz"
        for clock in CLOCKS
        for moment in ("due", "warning_at", "alarm_at")
    },
    "next_sla_alarm_at": "timestamptz",
}
_STORED: Final = (*COLUMNS, "search_text")
_SELECT: Final = f"SELECT {', '.join(_STORED)} FROM {TABLE} WHERE case_id = ANY(%s::uuid[])"
_ARRAYS: Final = ", ".join(f"%s::{_TYPES.get(column, 'text')}[]" for column in _STORED)
_UPSERT: Final = (
    f"INSERT INTO {TABLE} ({', '.join(_STORED)}) SELECT * FROM unnest({_ARRAYS}) "
    f"ON CONFLICT (case_id) DO UPDATE SET "
    f"{', '.join(f'{c} = EXCLUDED.{c}' for c in _STORED[1:])}"
)
_POSITION: Final = "SELECT notification_id FROM projection_tracking WHERE projection_name = %s"
_ADVANCE: Final = (
    "WITH moved AS (UPDATE projection_tracking SET notification_id = %s"
    " WHERE projection_name = %s AND notification_id = %s RETURNING 1)"
    " SELECT casemgmt_refuse_projection_position(%s, %s) WHERE NOT EXISTS (SELECT FROM moved)"
)
# Starting without a position: record 0 and empty the table, together. When a rebuild holds the
# tracking row, the INSERT waits for it and then inserts nothing, so the rebuilt rows stay.
_START: Final = (
    "WITH started AS (INSERT INTO projection_tracking (projection_name, notification_id)"
    " VALUES (%s, 0) ON CONFLICT DO NOTHING RETURNING 1)"
    f" DELETE FROM {TABLE} WHERE EXISTS (SELECT FROM started)"
)


@dataclass(slots=True)
class _Row:
    summary: CaseSummary
    search_text: str


class CaseListProjection(Projection):
    """Projects every case into a row of `case_summaries` (lists, filters, full-text search)."""

    name = TABLE

    def __init__(self, datastore: Datastore, routing: RoutingRules = DEFAULT_ROUTING) -> None:
        self.datastore = datastore
        self.routing = routing

    def position(self) -> int | None:
        rows = self.datastore.execute(_POSITION, [self.name])
        return int(rows[0][0]) if rows else None

    def resume(self) -> int:
        self.datastore.execute(_START, [self.name], retries=0)
        position = self.position()
        assert position is not None  # _START made sure there is one
        return position

    def write(self, batch: Batch) -> None:
        rows = self._fold(batch, self._run_and_retry)
        statement = [_ADVANCE, *([_UPSERT] if rows else [])]
        params = [batch.last_id, self.name, batch.after, self.name, batch.after]
        params += _arrays(rows)
        try:
            # Not retried: after a lost connection the runner reads its position again instead.
            self.datastore.execute("; ".join(statement), params, retries=0)
        except IntegrityError as error:
            raise PositionMoved(self.name, batch.after) from error

    def rebuild(self, log: EventLog, *, progress: Progress | None = None, batch_size: int) -> int:
        """Replays the whole log into the table in one transaction, then commits it at once.

        The transaction first locks this projection's tracking row: the live worker's next write
        waits on it, and after the commit finds its position moved and carries on from the
        rebuilt one. Readers see the old rows (MVCC) until the commit, then all the new ones.
        """
        conn = self.datastore.pool.connect()
        with closing(conn):
            conn.autocommit = False
            cursor = conn.cursor()

            def run(query: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
                cursor.execute(query, params)
                return cursor.fetchall() if cursor.description else []

            run(
                "INSERT INTO projection_tracking (projection_name, notification_id)"
                " VALUES (%s, 0) ON CONFLICT DO NOTHING",
                [self.name],
            )
            run(f"{_POSITION} FOR UPDATE", [self.name])
            run(f"DELETE FROM {TABLE}", [])

            def write(batch: Batch) -> None:
                rows = self._fold(batch, run)
                if rows:
                    run(_UPSERT, _arrays(rows))

            last, done = replay(log, write, batch_size=batch_size, progress=progress)
            run(
                "UPDATE projection_tracking SET notification_id = %s WHERE projection_name = %s",
                [last, self.name],
            )
            conn.commit()
        log_rebuilt(self.name, done, last)
        return done

    def _run_and_retry(self, query: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        return self.datastore.execute(query, params)

    def _fold(self, batch: Batch, run: Run) -> list[_Row]:
        """The rows the batch's events change, as they are after the batch."""
        case_ids = list({event.originator_id for event in batch.events})
        rows = _load(run, case_ids) if case_ids else {}
        changed: dict[UUID, _Row] = {}
        for event in batch.events:
            row = rows.get(event.originator_id)
            summary = evolve(None if row is None else row.summary, event, self.routing)
            if summary is None:
                logger.warning(
                    "%s: no case %s to apply %s to",
                    self.name,
                    event.originator_id,
                    type(event).__name__,
                )
                continue
            if row is None or isinstance(event, Case.Received):
                row = rows[event.originator_id] = _Row(summary, "")
            words = words_added(event)
            if words and len(row.search_text) < MAX_SEARCH_TEXT:
                text = f"{row.search_text}\n{fold(words)}".lstrip("\n")
                row.search_text = text[:MAX_SEARCH_TEXT]
            changed[event.originator_id] = row
        return list(changed.values())


def log_rebuilt(name: str, done: int, last: int) -> None:
    logger.info("rebuilt %s from %d notifications, up to notification %d", name, done, last)


def _load(run: Run, case_ids: list[UUID]) -> dict[UUID, _Row]:
    rows = {}
    for values in run(_SELECT, [case_ids]):
        summary = CaseSummary(*values[:-1])
        rows[summary.case_id] = _Row(summary, values[-1])
    return rows


def _arrays(rows: Iterable[_Row]) -> list[list[Any]]:
    """The upsert's parameters: one array per stored column."""
    listed = list(rows)
    arrays = [[getattr(row.summary, column) for row in listed] for column in COLUMNS]
    arrays.append([row.search_text for row in listed])
    return arrays
