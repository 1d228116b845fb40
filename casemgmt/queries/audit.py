"""The audit trail, read: the action log (`audit_events`) and the record of reads (`case_reads`).

Lists are newest first, a page at a time with how many match; the export runs oldest first in
pages of its own (keyset, by moment and id), so it holds one page in memory whatever the range.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Final
from uuid import UUID

from casemgmt.readmodels.audit_entry import (
    ENTRY_COLUMNS,
    EVENTS_TABLE,
    READ_COLUMNS,
    READS_TABLE,
    AuditEntry,
    CaseRead,
)

if TYPE_CHECKING:
    from collections.abc import Iterator
    from datetime import datetime

    from casemgmt.persistence.datastore import Datastore

Values = str | Sequence[str] | None

EXPORT_PAGE: Final = 1000


class _Conditions:
    """The WHERE clause of a filtered read, built one filter at a time."""

    def __init__(self) -> None:
        self.clauses: list[str] = []
        self.params: list[Any] = []

    def any_of(self, column: str, values: Values) -> None:
        if values is not None:
            self.clauses.append(f"{column} = ANY(%s)")
            self.params.append([values] if isinstance(values, str) else list(values))

    def case(self, id_column: str, reference_column: str, cases: Values) -> None:
        """A case named by its id or by its reference (CC-2026-000001)."""
        if cases is None:
            return
        named = [cases] if isinstance(cases, str) else list(cases)
        ids = [UUID(name) for name in named if _is_uuid(name)]
        self.clauses.append(f"({id_column} = ANY(%s::uuid[]) OR {reference_column} = ANY(%s))")
        self.params += [ids, named]

    def between(self, column: str, start: datetime | None, end: datetime | None) -> None:
        """From `start` (included) to `end` (excluded)."""
        if start is not None:
            self.clauses.append(f"{column} >= %s")
            self.params.append(start)
        if end is not None:
            self.clauses.append(f"{column} < %s")
            self.params.append(end)

    @property
    def where(self) -> str:
        return f" WHERE {' AND '.join(self.clauses)}" if self.clauses else ""


def find_events(
    datastore: Datastore,
    *,
    actor: Values = None,
    role: Values = None,
    case: Values = None,
    event_type: Values = None,
    unit: Values = None,
    start: datetime | None = None,
    end: datetime | None = None,
    page: int = 1,
    per_page: int = 25,
) -> tuple[list[AuditEntry], int]:
    """One page of the action log, newest first, and how many entries match every filter.

    `case` takes case ids or references; `unit` is the case's unit after the event; the range is
    [start, end) of the events' moments.
    """
    conditions = _Conditions()
    conditions.any_of("actor_id", actor)
    conditions.any_of("actor_role", role)
    conditions.case("case_id", "case_reference", case)
    conditions.any_of("event_type", event_type)
    conditions.any_of("unit", unit)
    conditions.between("occurred_at", start, end)
    rows, total = _page(
        datastore,
        ENTRY_COLUMNS,
        EVENTS_TABLE,
        conditions,
        order="occurred_at DESC, notification_id DESC",
        page=page,
        per_page=per_page,
    )
    return [AuditEntry(*row) for row in rows], total


def find_reads(
    datastore: Datastore,
    *,
    actor: Values = None,
    case: Values = None,
    start: datetime | None = None,
    end: datetime | None = None,
    page: int = 1,
    per_page: int = 25,
) -> tuple[list[CaseRead], int]:
    """One page of the reads of cases, newest first, and how many match every filter.

    `actor` is the account's name; `case` takes case ids or references; the range is [start, end).
    """
    conditions = _Conditions()
    conditions.any_of("account", actor)
    conditions.case("case_id", "case_reference", case)
    conditions.between("read_at", start, end)
    rows, total = _page(
        datastore,
        READ_COLUMNS,
        READS_TABLE,
        conditions,
        order="read_at DESC, id DESC",
        page=page,
        per_page=per_page,
    )
    return [CaseRead(*row) for row in rows], total


def export_events(
    datastore: Datastore, start: datetime, end: datetime, *, page: int = EXPORT_PAGE
) -> Iterator[AuditEntry]:
    """Every entry of the action log from `start` (included) to `end` (excluded), oldest first.

    Read `page` entries at a time, each page after the last one read (by moment, then id).
    """
    columns = ", ".join(ENTRY_COLUMNS)
    first = (
        f"SELECT {columns} FROM {EVENTS_TABLE} WHERE occurred_at >= %s AND occurred_at < %s"
        " ORDER BY occurred_at, notification_id LIMIT %s"
    )
    following = (
        f"SELECT {columns} FROM {EVENTS_TABLE}"
        " WHERE (occurred_at, notification_id) > (%s, %s) AND occurred_at < %s"
        " ORDER BY occurred_at, notification_id LIMIT %s"
    )
    rows = datastore.execute(first, [start, end, page])
    while rows:
        entries = [AuditEntry(*row) for row in rows]
        yield from entries
        if len(rows) < page:
            return
        last = entries[-1]
        rows = datastore.execute(following, [last.occurred_at, last.notification_id, end, page])


def _page(
    datastore: Datastore,
    columns: Sequence[str],
    table: str,
    conditions: _Conditions,
    *,
    order: str,
    page: int,
    per_page: int,
) -> tuple[list[tuple[Any, ...]], int]:
    """One page of the rows that meet the conditions, and how many do."""
    rows = datastore.execute(
        f"SELECT {', '.join(columns)}, count(*) OVER () FROM {table}{conditions.where}"
        f" ORDER BY {order} LIMIT %s OFFSET %s",
        [*conditions.params, per_page, (page - 1) * per_page],
    )
    if rows:
        return [row[:-1] for row in rows], int(rows[0][-1])
    if page == 1:
        return [], 0
    counted = datastore.execute(
        f"SELECT count(*) FROM {table}{conditions.where}", conditions.params
    )
    return [], int(counted[0][0])


def _is_uuid(text: str) -> bool:
    try:
        UUID(text)
    except ValueError:
        return False
    return True
