"""The audit trail's shapes: an event as the action log keeps it, what it changed in words, and a
read of a case.

`readable_history` is what both the case history (`GET /cases/{id}/history`, `casemgmt case
history`) and the action log (`casemgmt.projections.audit_log`) show as an event's `changes`: the
case is replayed event by event and a few of its attributes, in words, compared before and after
each one. One definition, so the two never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Final
from uuid import UUID

from eventsourcing.domain import Aggregate

from casemgmt.domain import Case
from casemgmt.domain.sla import ClockName

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator

# The PostgreSQL tables: one row per event of the care centre's log; the case as the action log
# last saw it (to tell what the next event changes); one row per read of a case through the API.
EVENTS_TABLE: Final = "audit_events"
CASE_STATES_TABLE: Final = "audit_case_states"
READS_TABLE: Final = "case_reads"

NOTHING: Final = "—"
# An attribute's value is cut to this many characters in a change ("resolution: — → Đã …").
MAX_VALUE_CHARS: Final = 80

# What every event carries besides its own data; the history shows these beside `data`.
ENVELOPE: Final = frozenset(
    {
        "originator_id",
        "originator_version",
        "originator_topic",
        "timestamp",
        "actor",
        "cause",
        "correlation_id",
        "status",
    }
)
# Every kind of event a case records, by name ("Triaged"): what the action log's `type` holds.
# (eventsourcing gives every aggregate a `Created` event; a case is created by `Received`.)
EVENT_TYPES: Final = tuple(
    name
    for name, value in vars(Case).items()
    if isinstance(value, type)
    and issubclass(value, Case.Event)
    and value is not Case.Event
    and (value is Case.Received or not issubclass(value, Aggregate.Created))
)


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One event of the care centre, flattened: a row of `audit_events`."""

    notification_id: int
    case_id: UUID
    case_reference: str | None  # None only for an event whose case's Received is not in the log
    version: int
    event_type: str
    occurred_at: datetime
    actor_id: str
    actor_role: str
    on_behalf_of: str | None
    cause: str
    correlation_id: str
    unit: str | None  # the case's unit after the event
    status: str  # the case's status after the event
    changes: list[str]
    data: dict[str, Any]


ENTRY_COLUMNS: Final = tuple(f.name for f in fields(AuditEntry))


class ReadView(StrEnum):
    """Which view of a case was read."""

    CASE = "case"  # GET /cases/{id}
    CASE_AS_OF = "case-as-of"  # GET /cases/{id}?as_of=…
    CASE_AT_VERSION = "case-at-version"  # GET /cases/{id}?version=N
    HISTORY = "history"  # GET /cases/{id}/history


@dataclass(frozen=True, slots=True)
class CaseRead:
    """Who read which case, when, in which view and request: a row of `case_reads`."""

    read_at: datetime
    account: str
    role: str
    on_behalf_of: str | None
    case_id: UUID
    case_reference: str
    view: str
    correlation_id: str


READ_COLUMNS: Final = tuple(f.name for f in fields(CaseRead))


# -- what an event changed, in words ------------------------------------------------------------


def event_data(event: Case.Event) -> dict[str, Any]:
    """What the event records besides its envelope, JSON-native."""
    return {key: _json_native(value) for key, value in vars(event).items() if key not in ENVELOPE}


def readable_history(events: Iterable[Case.Event]) -> Iterator[tuple[Case.Event, list[str]]]:
    """Each event of one case, in order, with what it changed in words."""
    replay = Replay()
    for event in events:
        yield event, replay.apply(event)


class Replay:
    """A case replayed event by event, saying what each event changed.

    `case` is None before the case's first event (`Received`); it is changed in place.
    """

    def __init__(self, case: Case | None = None) -> None:
        self.case = case
        self._shown = readable(case)  # the case in words, as the last event left it

    def apply(self, event: Case.Event) -> list[str]:
        """Applies the event to the case; returns what it changed."""
        case = event.mutate(self.case)
        assert isinstance(case, Case)
        shown = readable(case)
        changed = changes(self._shown, shown)
        self.case, self._shown = case, shown
        return changed


def readable(case: Case | None) -> dict[str, str]:
    """The attributes a reader of the history follows, each as words (— when it has none)."""
    if case is None:
        return dict.fromkeys(_ATTRIBUTES, NOTHING)
    return {label: _shown(describe(case)) for label, describe in _ATTRIBUTES.items()}


def changes(before: dict[str, str], after: dict[str, str]) -> list[str]:
    """`"label: old → new"` for each attribute that differs, in a fixed order."""
    return [
        f"{label}: {before[label]} → {after[label]}"
        for label in _ATTRIBUTES
        if before[label] != after[label]
    ]


def _category(case: Case) -> str | None:
    line, kind = case.category.line, case.category.kind
    if line is None and kind is None:
        return None
    return f"{NOTHING if line is None else line.value}/{NOTHING if kind is None else kind}"


def _due(name: ClockName) -> Callable[[Case], datetime | None]:
    def due(case: Case) -> datetime | None:
        clock = case.clocks.get(name)
        return None if clock is None else clock.due

    return due


def _clock(name: ClockName) -> Callable[[Case], str | None]:
    """running, paused, met or breached; a running or paused clock says when a warning or a
    breach was recorded."""

    def state(case: Case) -> str | None:
        clock = case.clocks.get(name)
        if clock is None:
            return None
        if clock.stopped:
            return clock.recorded_state.value
        shown = "running" if clock.running else "paused"
        if clock.breached:
            return f"{shown}, breached"
        return f"{shown}, warned" if clock.warned else shown

    return state


_ATTRIBUTES: Final[dict[str, Callable[[Case], Any]]] = {
    "status": lambda case: case.status.value,
    "priority": lambda case: case.priority.value,
    "category": _category,
    "unit": lambda case: case.unit,
    "assignee": lambda case: case.assignee,
    "escalation level": lambda case: case.escalation_level,
    "first_response due": _due(ClockName.FIRST_RESPONSE),
    "first_response clock": _clock(ClockName.FIRST_RESPONSE),
    "resolution due": _due(ClockName.RESOLUTION),
    "resolution clock": _clock(ClockName.RESOLUTION),
    "resolution": lambda case: case.resolution,
    "survey requested": lambda case: case.survey_requested_at,
    "closes by itself": lambda case: case.auto_close_at,
    "merged into": lambda case: case.merged_into,
    "merged from": lambda case: ", ".join(str(merged) for merged in case.merged_from) or None,
    "feedback": lambda case: None if case.feedback is None else f"{case.feedback.score}/5",
}


def _shown(value: Any) -> str:
    if value is None:
        return NOTHING
    text = value.isoformat() if isinstance(value, datetime) else str(value)
    return text if len(text) <= MAX_VALUE_CHARS else f"{text[: MAX_VALUE_CHARS - 1]}…"


def _json_native(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, dict):
        return {str(key): _json_native(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_json_native(item) for item in value]
    return value
