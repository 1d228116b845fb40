"""A conference or Q&A session as the reports see it: one row of `report_sessions`, what the
active-care figures group by (unit, insurance line, kind) and add up (held, attendance, the
questions raised there).

`casemgmt.projections.active_care` folds the sessions' events into it;
`casemgmt.queries.active_care` aggregates it (migration 0018).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from typing import Final
from uuid import UUID

# The PostgreSQL table of the active-care figures, one row per session.
TABLE: Final = "report_sessions"


@dataclass(slots=True)
class ReportSession:
    """One session's row in `report_sessions`."""

    session_id: UUID
    kind: str  # conference | qa
    status: str  # scheduled | held
    unit: str
    line: str | None  # the insurance line it was about; None when none was given
    topic: str
    scheduled_for: datetime
    held_at: datetime | None = None
    attendance: int | None = None
    questions: int = 0  # questions raised there, each opened as a case and listed by the session


COLUMNS: Final = tuple(f.name for f in fields(ReportSession))
