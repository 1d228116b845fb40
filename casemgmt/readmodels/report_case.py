"""A case as the reports see it: one row of `report_cases`, the keys a report groups by and the
figures it adds up.

`casemgmt.projections.reports` folds events into it; `casemgmt.queries.reports` aggregates it.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from enum import StrEnum
from typing import Final
from uuid import UUID

# The PostgreSQL table of the reports, one row per case (migration 0012).
TABLE: Final = "report_cases"


class Outcome(StrEnum):
    """How an SLA clock of a case ended, as far as the reports count it."""

    MET = "met"  # stopped without a recorded breach, on time
    BREACHED = "breached"  # a breach recorded, or stopped after its deadline


@dataclass(slots=True)
class ReportCase:
    """One case's row in `report_cases`."""

    case_id: UUID
    received_at: datetime
    channel: str
    category_line: str | None
    category_kind: str | None
    priority: str
    unit: str | None
    agent: str | None  # the last agent assigned
    status: str
    ended_at: datetime | None  # when it was resolved or merged; None while open (or reopened)
    first_response_seconds: float | None  # the clock's working time once it stopped
    first_response_outcome: str | None
    resolution_seconds: float | None
    resolution_outcome: str | None
    reopened: bool = False
    transferred: bool = False
    escalated: bool = False
    merged: bool = False
    survey_requested: bool = False
    feedback_score: int | None = None


COLUMNS: Final = tuple(f.name for f in fields(ReportCase))
