"""The open cases' clocks as the case list keeps them, a page at a time: what `casemgmt sla apply`
recomputes deadlines from without loading each case (`CareCentre.clock_changes_of`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from casemgmt.domain import Status
from casemgmt.domain.clock_keeping import ClockSubject, KeptClocks
from casemgmt.domain.sla import ClockName, clock_from_json
from casemgmt.readmodels.case_summary import TABLE

if TYPE_CHECKING:
    from collections.abc import Iterator

    from casemgmt.persistence.datastore import Datastore

_COLUMNS: Final = (
    "case_id, version, status, channel, category_line, category_kind, priority, unit, "
    "received_at, first_response_at, sla_clocks, clocks_known"
)
_FIRST: Final = "00000000-0000-0000-0000-000000000000"


def kept_clocks(
    datastore: Datastore, *, statuses: list[str], page: int = 1000
) -> Iterator[list[KeptClocks]]:
    """Pages of the cases in these statuses, in id order, with their clocks as last projected."""
    query = (
        f"SELECT {_COLUMNS} FROM {TABLE} WHERE case_id > %s AND status = ANY(%s)"
        " ORDER BY case_id LIMIT %s"
    )
    after: Any = _FIRST
    while True:
        rows = datastore.execute(query, [after, statuses, page])
        if rows:
            yield [_kept(row) for row in rows]
        if len(rows) < page:
            return
        after = rows[-1][0]


def _kept(row: tuple[Any, ...]) -> KeptClocks:
    case_id, version, status, channel, line, kind, priority, unit, received_at = row[:9]
    first_response_at, clocks, known = row[9:]
    subject = ClockSubject(
        Status(status), channel, line, kind, priority, unit, received_at, first_response_at
    )
    kept = None
    if known:
        kept = {ClockName(name): clock_from_json(data) for name, data in (clocks or {}).items()}
    return KeptClocks(case_id, version, subject, kept)
