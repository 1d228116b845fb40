"""The action log: every event of the care centre as a row of `audit_events`, with its position.

A row says who did what to which case, when, why and in which request, the case's unit and status
after it, and what the event changed in words (`casemgmt.readmodels.audit_entry`). To tell what an
event changed, the projection keeps each case as it last saw it (`audit_case_states`: the case's
snapshot without its conversation, notes and body, which no change in words looks at) and applies
the event to it, exactly as the case history does.

Rows, case states and position are written in one transaction (`casemgmt.projections.tables`).
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any, Final

from eventsourcing.persistence import DatetimeAsISO, JSONTranscoder, UUIDAsHex

from casemgmt.domain import Case
from casemgmt.domain.requests import erased_value
from casemgmt.projections.base import PositionMoved
from casemgmt.projections.tables import TableProjection
from casemgmt.readmodels.audit_entry import (
    CASE_STATES_TABLE,
    ENTRY_COLUMNS,
    EVENT_TYPES,
    EVENTS_TABLE,
    AuditEntry,
    Replay,
    event_data,
)

if TYPE_CHECKING:
    from collections.abc import Iterable
    from uuid import UUID

    from casemgmt.projections.tables import Run, Statement
    from casemgmt.runtime.log import Batch

logger = logging.getLogger(__name__)

_TYPES: Final = {
    "notification_id": "bigint",
    "case_id": "uuid",
    "version": "bigint",
    "occurred_at": "timestamptz",
    "changes": "jsonb",
    "data": "jsonb",
}
_ARRAYS: Final = ", ".join(f"%s::{_TYPES.get(column, 'text')}[]" for column in ENTRY_COLUMNS)
_INSERT: Final = (
    f"INSERT INTO {EVENTS_TABLE} ({', '.join(ENTRY_COLUMNS)}) SELECT * FROM unnest({_ARRAYS})"
    " ON CONFLICT (notification_id) DO NOTHING"
)
_SELECT_STATES: Final = f"SELECT state FROM {CASE_STATES_TABLE} WHERE case_id = ANY(%s::uuid[])"
_UPSERT_STATES: Final = (
    f"INSERT INTO {CASE_STATES_TABLE} (case_id, state)"
    " SELECT * FROM unnest(%s::uuid[], %s::bytea[])"
    " ON CONFLICT (case_id) DO UPDATE SET state = EXCLUDED.state"
)
# Left out of a kept case: no change in words looks at them, and they are what makes a case big.
_NOT_KEPT: Final[dict[str, Any]] = {"messages": [], "notes": [], "body": None}
# Where any kind of event holds personal data ("requester.name", "message"), as jsonb paths.
_PERSONAL_PATHS: Final = sorted(
    {path for name in EVENT_TYPES for path in getattr(Case, name).personal}
)
# Run after the batch's rows are inserted, so a row of the same batch is erased too; a value that
# is already null (no body) stays null.
_ERASE: Final = (
    f"UPDATE {EVENTS_TABLE} SET data = jsonb_set(data, %s::text[], %s::jsonb)"
    " WHERE case_id = ANY(%s::uuid[]) AND jsonb_typeof(data #> %s::text[]) = 'string'"
)


class AuditLogProjection(TableProjection):
    """Flattens every event of the care centre into a row of `audit_events` (the action log)."""

    name = "audit_log"
    tables = (EVENTS_TABLE, CASE_STATES_TABLE)

    def statements(self, batch: Batch, run: Run) -> list[Statement]:
        case_ids = list({event.originator_id for event in batch.events})
        replays = {case.id: Replay(case) for case in _load(run, case_ids)} if case_ids else {}
        entries = []
        for notification_id, event in zip(batch.notification_ids, batch.events, strict=True):
            replay = replays.get(event.originator_id)
            if replay is None:
                if not isinstance(event, Case.Received):
                    logger.warning(
                        "%s: no case %s to apply %s to; logged without its changes",
                        self.name,
                        event.originator_id,
                        type(event).__name__,
                    )
                    entries.append(_entry(notification_id, event, None, []))
                    continue
                replay = replays[event.originator_id] = Replay()
            elif replay.case is not None and event.originator_version <= replay.case.version:
                # The kept case is past this event: another writer logged it (a rebuild, or a
                # worker that took over), so the position check would refuse the batch anyway.
                raise PositionMoved(self.name, batch.after)
            changes = replay.apply(event)
            entries.append(_entry(notification_id, event, replay.case, changes))
        statements: list[Statement] = []
        if entries:
            statements.append((_INSERT, _columns(entries)))
        statements += _erasures(batch.events)
        # Every case loaded or received here had an event of the batch applied to it.
        kept = [replay.case for replay in replays.values() if replay.case is not None]
        if kept:
            frozen = [[case.id for case in kept], [_freeze(case) for case in kept]]
            statements.append((_UPSERT_STATES, frozen))
        return statements


def _erasures(events: Iterable[Case.Event]) -> list[Statement]:
    """The statements that erase, in the rows of the action log, the personal data of each case
    whose requester the batch erases (its events before it read as erased from now on)."""
    erased = list({e.originator_id for e in events if isinstance(e, Case.RequesterErased)})
    if not erased:
        return []
    statements: list[Statement] = []
    for path in _PERSONAL_PATHS:
        names = path.split(".")
        value = json.dumps(erased_value(path))
        statements.append((_ERASE, [names, value, erased, names]))
    return statements


def _entry(
    notification_id: int, event: Case.Event, case: Case | None, changes: list[str]
) -> AuditEntry:
    actor = event.actor
    return AuditEntry(
        notification_id=notification_id,
        case_id=event.originator_id,
        case_reference=None if case is None else case.reference,
        version=event.originator_version,
        event_type=type(event).__name__,
        occurred_at=event.timestamp,
        actor_id=actor["id"],
        actor_role=actor["role"],
        on_behalf_of=actor.get("on_behalf_of"),
        cause=event.cause,
        correlation_id=event.correlation_id,
        unit=None if case is None else case.unit,
        status=event.status,
        changes=changes,
        data=event_data(event),
    )


def _columns(entries: Iterable[AuditEntry]) -> list[list[Any]]:
    """The insert's parameters: one array per column, JSON columns as JSON text."""
    listed = list(entries)
    arrays: list[list[Any]] = []
    for column in ENTRY_COLUMNS:
        values = [getattr(entry, column) for entry in listed]
        if _TYPES.get(column) == "jsonb":
            values = [json.dumps(value, ensure_ascii=False) for value in values]
        arrays.append(values)
    return arrays


def _transcoder() -> JSONTranscoder:
    transcoder = JSONTranscoder()
    transcoder.register(UUIDAsHex())
    transcoder.register(DatetimeAsISO())
    return transcoder


_TRANSCODER: Final = _transcoder()


def _freeze(case: Case) -> bytes:
    """The case as the action log keeps it, to apply its next event to."""
    snapshot = Case.Snapshot.take(case)
    return _TRANSCODER.encode(
        {
            "id": snapshot.originator_id,
            "version": snapshot.originator_version,
            "timestamp": snapshot.timestamp,
            "topic": snapshot.topic,
            "state": {**snapshot.state, **_NOT_KEPT},
        }
    )


def _thaw(frozen: bytes) -> Case:
    kept = _TRANSCODER.decode(frozen)
    snapshot = Case.Snapshot(
        originator_id=kept["id"],
        originator_version=kept["version"],
        timestamp=kept["timestamp"],
        topic=kept["topic"],
        state=kept["state"],
    )
    return snapshot.mutate(None)


def _load(run: Run, case_ids: list[UUID]) -> list[Case]:
    return [_thaw(bytes(row[0])) for row in run(_SELECT_STATES, [case_ids])]
