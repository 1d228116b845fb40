"""Which resolved cases are due to close by themselves, from the case list (for the auto-closer)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from casemgmt.domain import Status
from casemgmt.readmodels.case_summary import TABLE

if TYPE_CHECKING:
    from datetime import datetime
    from uuid import UUID

    from casemgmt.persistence.datastore import Datastore


def auto_close_due(datastore: Datastore, now: datetime, limit: int) -> list[tuple[UUID, datetime]]:
    """Resolved cases whose auto-close moment is at or before `now`, the longest due first."""
    rows = datastore.execute(
        f"SELECT case_id, auto_close_at FROM {TABLE}"
        " WHERE auto_close_at <= %s AND status = %s ORDER BY auto_close_at LIMIT %s",
        [now, Status.RESOLVED.value, limit],
    )
    return [(case_id, at) for case_id, at in rows]
