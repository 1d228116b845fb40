"""The case list: one row per case in `case_summaries`, written together with its position.

A batch moves the position and upserts every changed row in one transaction
(`casemgmt.projections.tables`), so a crash or a second writer can neither skip nor double an event.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from casemgmt.domain import Case
from casemgmt.domain.routing import DEFAULT_ROUTING
from casemgmt.domain.sla import ClockName
from casemgmt.projections.summaries import evolve, words_added
from casemgmt.projections.tables import TableProjection
from casemgmt.readmodels.case_summary import COLUMNS, TABLE, CaseSummary
from casemgmt.readmodels.text import fold

if TYPE_CHECKING:
    from collections.abc import Iterable
    from uuid import UUID

    from casemgmt.domain.routing import RoutingRules
    from casemgmt.persistence.datastore import Datastore
    from casemgmt.projections.tables import Run, Statement
    from casemgmt.runtime.log import Batch

logger = logging.getLogger(__name__)

# PostgreSQL refuses a tsvector over 1 MB, which would stop the projection at that event for good;
# the first hundred thousand characters of a case (subject, body, early messages) are plenty.
MAX_SEARCH_TEXT: Final = 100_000
CLOCKS: Final = tuple(clock.value for clock in ClockName)
_TYPES: Final = {
    "case_id": "uuid",
    "escalation_level": "integer",
    "received_at": "timestamptz",
    "first_replied_at": "timestamptz",
    "resolved_at": "timestamptz",
    "closed_at": "timestamptz",
    "merged_into": "uuid",
    "first_response_breached": "boolean",
    "resolution_breached": "boolean",
    "last_activity_at": "timestamptz",
    "version": "bigint",
    **{
        f"{clock}_{moment}": "timestamptz"
        for clock in CLOCKS
        for moment in ("due", "warning_at", "alarm_at")
    },
    "next_sla_alarm_at": "timestamptz",
    "auto_close_at": "timestamptz",
    "first_response_at": "timestamptz",
    "sla_clocks": "jsonb",
    "clocks_known": "boolean",
}
_STORED: Final = (*COLUMNS, "search_text")
_SELECT: Final = f"SELECT {', '.join(_STORED)} FROM {TABLE} WHERE case_id = ANY(%s::uuid[])"
_ARRAYS: Final = ", ".join(f"%s::{_TYPES.get(column, 'text')}[]" for column in _STORED)
_UPSERT: Final = (
    f"INSERT INTO {TABLE} ({', '.join(_STORED)}) SELECT * FROM unnest({_ARRAYS}) "
    f"ON CONFLICT (case_id) DO UPDATE SET "
    f"{', '.join(f'{c} = EXCLUDED.{c}' for c in _STORED[1:])}"
)


@dataclass(slots=True)
class _Row:
    summary: CaseSummary
    search_text: str


class CaseListProjection(TableProjection):
    """Projects every case into a row of `case_summaries` (lists, filters, full-text search)."""

    name = TABLE
    tables = (TABLE,)

    def __init__(self, datastore: Datastore, routing: RoutingRules = DEFAULT_ROUTING) -> None:
        super().__init__(datastore)
        self.routing = routing

    def statements(self, batch: Batch, run: Run) -> list[Statement]:
        rows = self._fold(batch, run)
        return [(_UPSERT, _arrays(rows))] if rows else []

    def _fold(self, batch: Batch, run: Run) -> list[_Row]:
        """The rows the batch's events change, as they are after the batch."""
        case_ids = list({event.originator_id for event in batch.events})
        rows = _load(run, case_ids) if case_ids else {}
        changed: dict[UUID, _Row] = {}
        for event in batch.events:
            row = rows.get(event.originator_id)
            summary = evolve(None if row is None else row.summary, event, self.routing)
            if summary is None:
                logger.warning(
                    "%s: no case %s to apply %s to",
                    self.name,
                    event.originator_id,
                    type(event).__name__,
                )
                continue
            if row is None or isinstance(event, Case.Received | Case.RequesterErased):
                row = rows[event.originator_id] = _Row(summary, "")  # erased: no words are left
            words = words_added(event)
            if words and len(row.search_text) < MAX_SEARCH_TEXT:
                text = f"{row.search_text}\n{fold(words)}".lstrip("\n")
                row.search_text = text[:MAX_SEARCH_TEXT]
            changed[event.originator_id] = row
        return list(changed.values())


def _load(run: Run, case_ids: list[UUID]) -> dict[UUID, _Row]:
    rows = {}
    for values in run(_SELECT, [case_ids]):
        summary = CaseSummary(*values[:-1])
        rows[summary.case_id] = _Row(summary, values[-1])
    return rows


def _arrays(rows: Iterable[_Row]) -> list[list[Any]]:
    """The upsert's parameters: one array per stored column."""
    listed = list(rows)
    arrays = [[getattr(row.summary, column) for row in listed] for column in COLUMNS]
    clocks = COLUMNS.index("sla_clocks")
    arrays[clocks] = [None if value is None else json.dumps(value) for value in arrays[clocks]]
    arrays.append([row.search_text for row in listed])
    return arrays
