"""Counts of the case list for `/metrics`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from casemgmt.queries.sla import CLOCKS, OPEN_STATUSES, at_risk_sql, breached_sql
from casemgmt.readmodels.case_summary import TABLE

if TYPE_CHECKING:
    from datetime import datetime

    from casemgmt.persistence.datastore import Datastore


@dataclass(frozen=True)
class ClockCounts:
    """How many open cases have one SLA clock breached, and how many have it at risk."""

    breached: int
    at_risk: int


def cases_by_status(datastore: Datastore) -> dict[str, int]:
    """How many cases the case list has in each status."""
    rows = datastore.execute(
        f"SELECT status, count(*) FROM {TABLE} GROUP BY status ORDER BY status"
    )
    return {status: int(count) for status, count in rows}


def sla_clocks(datastore: Datastore, now: datetime) -> dict[str, ClockCounts]:
    """Per SLA clock, how many open cases have it breached and at risk at `now` (one scan of
    the open cases)."""
    counts, params = [], []
    for clock in CLOCKS:
        for standing in (breached_sql, at_risk_sql):
            condition, values = standing(clock, now)
            counts.append(f"count(*) FILTER (WHERE {condition})")
            params += values
    (row,) = datastore.execute(
        f"SELECT {', '.join(counts)} FROM {TABLE} WHERE status = ANY(%s)",
        [*params, list(OPEN_STATUSES)],
    )
    numbers = iter(int(count) for count in row)
    return {clock: ClockCounts(next(numbers), next(numbers)) for clock in CLOCKS}
