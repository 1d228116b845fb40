"""A case as the improvement analysis sees it: where its time went, which units it passed
through, who asked (as a pseudonym), what it was about and when it breached.

`casemgmt.projections.analysis` writes these tables in the reports projection's batches;
`casemgmt.queries.analysis` reads them beside `report_cases` (migration 0015).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from casemgmt.domain import Status

if TYPE_CHECKING:
    from datetime import datetime
    from uuid import UUID

# One row per case: its stretch under way, unit path, first loop and requester pseudonym.
CASES: Final = "analysis_cases"
# One row per stretch a case spent in an open status at one unit, once the stretch ended.
STATE_TIMES: Final = "analysis_state_times"
# One row per breach of an SLA clock, with the unit that held the case then.
BREACHES: Final = "analysis_breaches"
# The terms of a case's subject, each once.
TERMS: Final = "analysis_terms"
TABLES: Final = (CASES, STATE_TIMES, BREACHES, TERMS)

# The statuses whose time the analysis counts: the case waits for the centre or the citizen.
# Time resolved, closed or merged is nobody's work.
OPEN_STATES: Final = (
    Status.RECEIVED.value,
    Status.TRIAGED.value,
    Status.IN_PROGRESS.value,
    Status.AWAITING_CITIZEN.value,
)


@dataclass(slots=True)
class AnalysisCase:
    """One case's row in `analysis_cases`."""

    case_id: UUID
    status: str
    unit: str | None
    since: datetime  # when the case came to its status at its unit: the stretch under way
    requester: bytes | None  # HMAC of the requester's id; None when anonymous or erased
    units: list[str | None]  # every unit it was with, in order, a repeat in a row once
    loop: list[str] | None  # the first A → … → A of `units`; None while it has none
    open_microseconds: int  # working time of the open stretches that ended, all units


COLUMNS: Final = (
    "case_id",
    "status",
    "unit",
    "since",
    "requester",
    "units",
    "loop",
    "open_microseconds",
)


def first_loop(units: list[str | None]) -> list[str] | None:
    """The first stretch of the path that comes back to a unit it left: ["hanoi", "haiphong",
    "hanoi"] of ["danang", "hanoi", "haiphong", "hanoi", "danang"]; None when no unit recurs."""
    path = [unit for unit in units if unit is not None]
    seen: dict[str, int] = {}
    for index, unit in enumerate(path):
        if unit in seen:
            return path[seen[unit] : index + 1]
        seen[unit] = index
    return None
