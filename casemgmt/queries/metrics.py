"""Counts of the case list for `/metrics`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from casemgmt.readmodels.case_summary import TABLE

if TYPE_CHECKING:
    from casemgmt.persistence.datastore import Datastore


def cases_by_status(datastore: Datastore) -> dict[str, int]:
    """How many cases the case list has in each status."""
    rows = datastore.execute(
        f"SELECT status, count(*) FROM {TABLE} GROUP BY status ORDER BY status"
    )
    return {status: int(count) for status, count in rows}
