"""Every case id the case list holds that matches, a page at a time: for work over many cases
(`casemgmt sla apply`, `casemgmt sla replay`) that must not hold them all in memory."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from casemgmt.readmodels.case_summary import TABLE

if TYPE_CHECKING:
    from collections.abc import Iterator
    from datetime import datetime
    from uuid import UUID

    from casemgmt.persistence.datastore import Datastore


def case_ids(
    datastore: Datastore,
    *,
    statuses: list[str] | None = None,
    received_from: datetime | None = None,
    received_to: datetime | None = None,
    page: int = 1000,
) -> Iterator[UUID]:
    """The ids of the cases in these statuses, received in [from, to), in id order."""
    conditions: list[str] = ["case_id > %s"]
    params: list[Any] = []
    if statuses is not None:
        conditions.append("status = ANY(%s)")
        params.append(statuses)
    if received_from is not None:
        conditions.append("received_at >= %s")
        params.append(received_from)
    if received_to is not None:
        conditions.append("received_at < %s")
        params.append(received_to)
    query = (
        f"SELECT case_id FROM {TABLE} WHERE {' AND '.join(conditions)} ORDER BY case_id LIMIT %s"
    )
    after = "00000000-0000-0000-0000-000000000000"
    while True:
        rows = datastore.execute(query, [after, *params, page])
        yield from (row[0] for row in rows)
        if len(rows) < page:
            return
        after = rows[-1][0]


def count_cases(datastore: Datastore, *, statuses: list[str]) -> int:
    """How many cases the case list has in these statuses."""
    rows = datastore.execute(f"SELECT count(*) FROM {TABLE} WHERE status = ANY(%s)", [statuses])
    return int(rows[0][0])


def case_id_by_reference(datastore: Datastore, reference: str) -> UUID | None:
    """The id of the case with this reference (`CC-2026-000001`), as the case list knows it."""
    rows = datastore.execute(f"SELECT case_id FROM {TABLE} WHERE reference = %s", [reference])
    return rows[0][0] if rows else None
