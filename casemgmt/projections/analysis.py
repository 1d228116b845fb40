"""The improvement analysis's tables, written in the reports projection's batches: one position and
one transaction for `report_cases` and these, so the analysis never joins rows of different moments.

Per case it keeps the stretch under way: its status, its unit, since when. When an event changes
either, the stretch ends, and if the status was an open one its working time, counted in the
unit's calendar of the SLA policy, becomes a row of `analysis_state_times`. It keeps the path of
units the case went through and the first loop in it (A → B → A); the requester as a keyed hash of
their id, the very HMAC their key is found by (`RequesterKeys.requester_hash`), never the id; the
terms of the subject (`casemgmt.readmodels.subject_terms`); and a row per breach, recorded by the
SLA timer or a clock stopped after its deadline, with the unit that held the case then.

`Case.RequesterErased` drops the case's pseudonym and terms; a rebuild reads the case's earlier
events as erased and brings neither back. Working time counts in the calendars of the policy the
projection runs with: a rebuild after the calendars changed counts every stretch in the new ones.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Final

from casemgmt.domain import Case, Status
from casemgmt.domain.calendar import BusinessCalendar
from casemgmt.domain.sla import ClockName, clock_from_dict
from casemgmt.domain.sla_policy import Target
from casemgmt.readmodels.analysis_case import (
    BREACHES,
    CASES,
    COLUMNS,
    OPEN_STATES,
    STATE_TIMES,
    TERMS,
    AnalysisCase,
    first_loop,
)
from casemgmt.readmodels.subject_terms import subject_terms

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from uuid import UUID

    from casemgmt.domain.sla_policy import SlaPolicy
    from casemgmt.projections.tables import Run, Statement

    # The working calendar of a unit (None: a case with no unit yet).
    CalendarOf = Callable[[str | None], BusinessCalendar]

_MICROSECOND: Final = timedelta(microseconds=1)
_TYPES: Final = {
    "case_id": "uuid",
    "since": "timestamptz",
    "requester": "bytea",
    "units": "jsonb",
    "loop": "jsonb",
    "open_microseconds": "bigint",
}
_SELECT: Final = f"SELECT {', '.join(COLUMNS)} FROM {CASES} WHERE case_id = ANY(%s::uuid[])"
_ARRAYS: Final = ", ".join(f"%s::{_TYPES.get(column, 'text')}[]" for column in COLUMNS)
_UPSERT: Final = (
    f"INSERT INTO {CASES} ({', '.join(COLUMNS)}) SELECT * FROM unnest({_ARRAYS}) "
    f"ON CONFLICT (case_id) DO UPDATE SET "
    f"{', '.join(f'{c} = EXCLUDED.{c}' for c in COLUMNS[1:])}"
)
# Rows are only ever added (each names the event that made it), never changed.
_ADD_STRETCHES: Final = (
    f"INSERT INTO {STATE_TIMES} (case_id, version, status, unit, working_microseconds)"
    " SELECT * FROM unnest(%s::uuid[], %s::bigint[], %s::text[], %s::text[], %s::bigint[])"
    " ON CONFLICT DO NOTHING"
)
_ADD_BREACHES: Final = (
    f"INSERT INTO {BREACHES} (case_id, version, clock, unit)"
    " SELECT * FROM unnest(%s::uuid[], %s::bigint[], %s::text[], %s::text[])"
    " ON CONFLICT DO NOTHING"
)
_ADD_TERMS: Final = (
    f"INSERT INTO {TERMS} (case_id, term) SELECT * FROM unnest(%s::uuid[], %s::text[])"
    " ON CONFLICT DO NOTHING"
)
_FORGET_TERMS: Final = f"DELETE FROM {TERMS} WHERE case_id = ANY(%s::uuid[])"


def unit_calendars(policy: SlaPolicy | None) -> CalendarOf:
    """Each unit's working calendar in the policy: the one a target without a calendar of its
    own counts in. Without a policy every hour is working time."""
    if policy is None:
        around_the_clock = BusinessCalendar(always_open=True)
        return lambda _: around_the_clock
    leaves_it_to_the_unit = Target()
    return lambda unit: policy.calendar_for(leaves_it_to_the_unit, unit)[1]


@dataclass
class _Writes:
    """What a batch adds besides the cases' own rows."""

    stretches: list[tuple[UUID, int, str, str | None, int]] = field(default_factory=list)
    breaches: list[tuple[UUID, int, str, str | None]] = field(default_factory=list)
    terms: dict[UUID, set[str]] = field(default_factory=dict)
    erased: set[UUID] = field(default_factory=set)

    def statements(self, cases: list[AnalysisCase]) -> list[Statement]:
        written: list[Statement] = []
        if cases:
            arrays = [[_stored(getattr(case, column)) for case in cases] for column in COLUMNS]
            written.append((_UPSERT, arrays))
        if self.stretches:
            written.append((_ADD_STRETCHES, _columns(self.stretches)))
        if self.breaches:
            written.append((_ADD_BREACHES, _columns(self.breaches)))
        pairs = [(case_id, term) for case_id, terms in self.terms.items() for term in terms]
        if pairs:
            written.append((_ADD_TERMS, [[case_id for case_id, _ in pairs], [t for _, t in pairs]]))
        if self.erased:
            written.append((_FORGET_TERMS, [sorted(self.erased)]))
        return written


class AnalysisTables:
    """Folds case events into the analysis tables (see the module); the reports projection
    writes what `statements` returns together with its own rows, and empties the tables
    (`casemgmt.readmodels.analysis_case.TABLES`) when it starts over."""

    def __init__(self, calendar_of: CalendarOf, pseudonym: Callable[[str], bytes]) -> None:
        self.calendar_of = calendar_of
        self.pseudonym = pseudonym  # the keyed hash of a requester's id

    def statements(self, events: Sequence[Case.Event], run: Run) -> list[Statement]:
        case_ids = list({event.originator_id for event in events})
        if not case_ids:
            return []
        cases = {case.case_id: case for case in _load(run, case_ids)}
        writes = _Writes()
        changed: dict[UUID, AnalysisCase] = {}
        for event in events:
            case = self._fold(cases.get(event.originator_id), event, writes)
            if case is not None:  # the reports projection warns of a case it does not know
                cases[case.case_id] = changed[case.case_id] = case
        return writes.statements(list(changed.values()))

    def _fold(
        self, case: AnalysisCase | None, event: Case.Event, writes: _Writes
    ) -> AnalysisCase | None:
        if isinstance(event, Case.Received):
            return self._received(event, writes)
        if case is None:
            return None
        unit = event.unit if isinstance(event, Case.Triaged | Case.Transferred) else case.unit
        if (event.status, unit) != (case.status, case.unit):
            self._end_stretch(case, event, writes)
            case.status, case.since = event.status, event.timestamp
            if unit != case.unit:
                case.unit = unit
                case.units.append(unit)
                case.loop = case.loop or first_loop(case.units)
        breached = _breached_clock(case, event)
        if breached is not None:
            writes.breaches.append((case.case_id, event.originator_version, breached, case.unit))
        elif isinstance(event, Case.RequesterErased):
            case.requester = None
            writes.terms.pop(case.case_id, None)
            writes.erased.add(case.case_id)
        return case

    def _received(self, event: Case.Received, writes: _Writes) -> AnalysisCase:
        requester_id = event.requester.get("id")  # None: anonymous, or read after an erasure
        case = AnalysisCase(
            case_id=event.originator_id,
            status=event.status,
            unit=event.unit,
            since=event.received_at,  # the clocks start there too, not at the intake command
            requester=None if requester_id is None else self.pseudonym(requester_id),
            units=[event.unit],
            loop=None,
            open_microseconds=0,
        )
        terms = subject_terms(event.subject)
        if terms:
            writes.terms[case.case_id] = terms
        return case

    def _end_stretch(self, case: AnalysisCase, event: Case.Event, writes: _Writes) -> None:
        """Ends the stretch under way at `event`; an open status's working time is written."""
        if case.status not in OPEN_STATES:
            return
        worked = self.calendar_of(case.unit).working_time_between(case.since, event.timestamp)
        micro = worked // _MICROSECOND
        writes.stretches.append(
            (case.case_id, event.originator_version, case.status, case.unit, micro)
        )
        case.open_microseconds += micro


def _breached_clock(case: AnalysisCase, event: Case.Event) -> str | None:
    """The clock the event says breached: a breach the timer recorded, or a clock that stopped
    late with none recorded (as the summary report counts them: a merged duplicate's resolution
    clock has no outcome). None: no breach."""
    if isinstance(event, Case.SlaBreached):
        return event.clock
    if not isinstance(event, Case.SlaClockStopped):
        return None
    clock = clock_from_dict(event.state)
    if case.status == Status.MERGED.value and clock.name is ClockName.RESOLUTION:
        return None
    late = not clock.breached and clock.stopped_at is not None and clock.stopped_at > clock.due
    return event.clock if late else None


def _load(run: Run, case_ids: list[UUID]) -> list[AnalysisCase]:
    cases = []
    for values in run(_SELECT, [case_ids]):
        case = AnalysisCase(*values)
        if case.requester is not None:
            case.requester = bytes(case.requester)  # psycopg2 reads bytea as a memoryview
        cases.append(case)
    return cases


def _columns(rows: Sequence[tuple[Any, ...]]) -> list[list[Any]]:
    """Rows as the arrays `unnest` takes, one per column."""
    return [list(column) for column in zip(*rows, strict=True)]


def _stored(value: Any) -> Any:
    """A column's value as the upsert's array takes it: JSON text for the unit lists."""
    return json.dumps(value) if isinstance(value, list) else value
