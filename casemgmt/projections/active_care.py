"""Active care in the reports: one row per conference or Q&A session in `report_sessions`, written
together with this projection's position in the sessions' own log (`caresessions_events`).

Sessions are aggregates of their own, saved by `CareSessions` in an event store beside the cases'
(migration 0013), so this projection follows that log, not the care centre's: scheduling writes
the session's row (kind, unit, insurance line, topic, when), recording it held sets its attendance,
and each question listed at it counts one more question raised. The summary and the analysis
reports add these rows up (`casemgmt.queries.active_care`).

The rows hold no personal data: the session's plan and outcome as the staff recorded them, and a
count of questions, not who asked them. Erasing a requester changes nothing here.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Final

from casemgmt.domain.sessions import CareSession, SessionStatus
from casemgmt.projections.tables import TableProjection, folded_rows, upserted
from casemgmt.readmodels.report_session import COLUMNS, TABLE, ReportSession

if TYPE_CHECKING:
    from collections.abc import Callable

    from casemgmt.projections.tables import Run, Statement
    from casemgmt.runtime.log import Batch

logger = logging.getLogger(__name__)

_TYPES: Final = {
    "session_id": "uuid",
    "scheduled_for": "timestamptz",
    "held_at": "timestamptz",
    "attendance": "integer",
    "questions": "integer",
}
_SELECT: Final = f"SELECT {', '.join(COLUMNS)} FROM {TABLE} WHERE session_id = ANY(%s::uuid[])"
_ARRAYS: Final = ", ".join(f"%s::{_TYPES.get(column, 'text')}[]" for column in COLUMNS)
_UPSERT: Final = (
    f"INSERT INTO {TABLE} ({', '.join(COLUMNS)}) SELECT * FROM unnest({_ARRAYS}) "
    f"ON CONFLICT (session_id) DO UPDATE SET "
    f"{', '.join(f'{c} = EXCLUDED.{c}' for c in COLUMNS[1:])}"
)


class ActiveCareProjection(TableProjection[CareSession.Event]):
    """Projects every session of the sessions' log into a row of `report_sessions`."""

    name = "active_care"
    tables = (TABLE,)

    def statements(self, batch: Batch[CareSession.Event], run: Run) -> list[Statement]:
        session_ids = list({event.originator_id for event in batch.events})
        if not session_ids:
            return []
        rows = {
            row.session_id: row
            for row in (ReportSession(*values) for values in run(_SELECT, [session_ids]))
        }
        changed = folded_rows(self.name, rows, batch.events, fold)
        return upserted(_UPSERT, COLUMNS, changed)


def fold(row: ReportSession | None, event: CareSession.Event) -> ReportSession | None:
    """The session's row after `event`, changed in place (None: the session is unknown here)."""
    if isinstance(event, CareSession.Scheduled):
        return ReportSession(
            session_id=event.originator_id,
            kind=event.kind,
            status=SessionStatus.SCHEDULED.value,
            unit=event.unit,
            line=event.line,
            topic=event.topic,
            scheduled_for=event.scheduled_for,
        )
    if row is not None:
        change = _CHANGES.get(type(event))
        if change is not None:
            change(row, event)
    return row


def _held(row: ReportSession, event: Any) -> None:
    row.status = SessionStatus.HELD.value
    row.held_at = event.held_at
    row.attendance = event.attendance


def _question_recorded(row: ReportSession, _: Any) -> None:
    row.questions += 1  # the session lists each case once; the position makes it once here too


_CHANGES: Final[dict[type[CareSession.Event], Callable[[ReportSession, Any], None]]] = {
    CareSession.Held: _held,
    CareSession.QuestionRecorded: _question_recorded,
}
