"""The reports' read table: one row per case in `report_cases`, written together with its position.

Each row holds what the summary report groups by (channel, category, priority, unit, the last
agent, the day received) and what it adds up: when the case ended, each SLA clock's working time
and outcome once it stopped (read from the clock the SLA events carry), whether the case was ever
reopened, transferred, escalated or merged, whether a survey was requested and the latest rating.
The report itself is computed from these rows in SQL (`casemgmt.queries.reports`).

The same batches write the improvement analysis's tables (`casemgmt.projections.analysis`), so
one position, one transaction and one rebuild cover both reports.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Final

from casemgmt.domain import Case
from casemgmt.domain.sla import ClockName, ClockState, clock_from_dict
from casemgmt.projections.tables import TableProjection, folded_rows, upserted
from casemgmt.readmodels.analysis_case import TABLES as ANALYSIS_TABLES
from casemgmt.readmodels.report_case import COLUMNS, TABLE, Outcome, ReportCase

if TYPE_CHECKING:
    from collections.abc import Callable

    from casemgmt.persistence.datastore import Datastore
    from casemgmt.projections.analysis import AnalysisTables
    from casemgmt.projections.tables import Run, Statement
    from casemgmt.runtime.log import Batch

logger = logging.getLogger(__name__)

_TYPES: Final = {
    "case_id": "uuid",
    "received_at": "timestamptz",
    "ended_at": "timestamptz",
    "first_response_seconds": "float8",
    "resolution_seconds": "float8",
    "reopened": "boolean",
    "transferred": "boolean",
    "escalated": "boolean",
    "merged": "boolean",
    "survey_requested": "boolean",
    "feedback_score": "smallint",
}
_SELECT: Final = f"SELECT {', '.join(COLUMNS)} FROM {TABLE} WHERE case_id = ANY(%s::uuid[])"
_ARRAYS: Final = ", ".join(f"%s::{_TYPES.get(column, 'text')}[]" for column in COLUMNS)
_UPSERT: Final = (
    f"INSERT INTO {TABLE} ({', '.join(COLUMNS)}) SELECT * FROM unnest({_ARRAYS}) "
    f"ON CONFLICT (case_id) DO UPDATE SET "
    f"{', '.join(f'{c} = EXCLUDED.{c}' for c in COLUMNS[1:])}"
)


class ReportProjection(TableProjection):
    """Projects every case into a row of `report_cases` (the summary report) and into the
    analysis tables (the improvement analysis)."""

    name = "reports"
    tables = (TABLE, *ANALYSIS_TABLES)

    def __init__(self, datastore: Datastore, analysis: AnalysisTables) -> None:
        super().__init__(datastore)
        self.analysis = analysis

    def statements(self, batch: Batch, run: Run) -> list[Statement]:
        events = [event for event in batch.events if isinstance(event, Case.Event)]
        return [*self._summary_rows(events, run), *self.analysis.statements(events, run)]

    def _summary_rows(self, events: list[Case.Event], run: Run) -> list[Statement]:
        case_ids = list({e.originator_id for e in events})
        if not case_ids:
            return []
        rows = {
            row.case_id: row for row in (ReportCase(*values) for values in run(_SELECT, [case_ids]))
        }
        return upserted(_UPSERT, COLUMNS, folded_rows(self.name, rows, events, fold))


def fold(row: ReportCase | None, event: Case.Event) -> ReportCase | None:
    """The case's report row after `event`, changed in place (None: the case is unknown here)."""
    if isinstance(event, Case.Received):
        row = ReportCase(
            case_id=event.originator_id,
            received_at=event.received_at,
            channel=event.channel,
            category_line=event.category.get("line"),
            category_kind=event.category.get("kind"),
            priority=event.priority,
            unit=event.unit,
            agent=None,
            status=event.status,
            ended_at=None,
            first_response_seconds=None,
            first_response_outcome=None,
            resolution_seconds=None,
            resolution_outcome=None,
        )
    elif row is None:
        return None
    else:
        change = _CHANGES.get(type(event))
        if change is not None:
            change(row, event)
    row.status = event.status
    return row


def _triaged(row: ReportCase, event: Any) -> None:
    row.category_line = event.category.get("line")
    row.category_kind = event.category.get("kind")
    row.priority = event.priority
    row.unit = event.unit


def _assigned(row: ReportCase, event: Any) -> None:
    row.agent = event.agent


def _escalated(row: ReportCase, _: Any) -> None:
    row.escalated = True


def _transferred(row: ReportCase, event: Any) -> None:
    row.unit = event.unit
    row.transferred = True


def _resolved(row: ReportCase, event: Any) -> None:
    row.ended_at = event.timestamp


def _reopened(row: ReportCase, _: Any) -> None:
    row.ended_at = None
    row.reopened = True


def _merged_into(row: ReportCase, event: Any) -> None:
    row.ended_at = event.timestamp
    row.merged = True
    row.resolution_seconds = row.resolution_outcome = None


def _survey_requested(row: ReportCase, _: Any) -> None:
    row.survey_requested = True


def _feedback(row: ReportCase, event: Any) -> None:
    row.feedback_score = event.score


def _clock(row: ReportCase, event: Any) -> None:
    """The clock as the event leaves it: its working time and outcome once stopped; a recorded
    breach is an outcome at once (the clock may run on, or be resumed by a reopen)."""
    clock = clock_from_dict(event.state)
    prefix = clock.name.value
    if row.merged and clock.name is ClockName.RESOLUTION:
        return  # a duplicate is not resolved: merging it stops its clock without an outcome
    seconds: float | None = None
    outcome: str | None = Outcome.BREACHED.value if clock.breached else None
    if clock.stopped:
        seconds = clock.used.total_seconds()
        late = clock.recorded_state is ClockState.BREACHED
        outcome = (Outcome.BREACHED if late else Outcome.MET).value
    setattr(row, f"{prefix}_seconds", seconds)
    setattr(row, f"{prefix}_outcome", outcome)


_CHANGES: Final[dict[type[Case.Event], Callable[[ReportCase, Any], None]]] = {
    Case.Triaged: _triaged,
    Case.Assigned: _assigned,
    Case.Escalated: _escalated,
    Case.Transferred: _transferred,
    Case.Resolved: _resolved,
    Case.Reopened: _reopened,
    Case.MergedInto: _merged_into,
    Case.SurveyRequested: _survey_requested,
    Case.FeedbackRecorded: _feedback,
    Case.SlaClockStarted: _clock,
    Case.SlaClockPaused: _clock,
    Case.SlaClockResumed: _clock,
    Case.SlaClockStopped: _clock,
    Case.SlaDeadlineRecomputed: _clock,
    Case.SlaWarning: _clock,
    Case.SlaBreached: _clock,
}
