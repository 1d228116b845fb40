"""Which SLA clock changes a case needs, from the few facts about it the clocks follow.

`Case.keep_clocks` records these steps after every command. `casemgmt sla apply` computes the same
steps for a million open cases from their rows in the case list (which keeps these facts), without
loading each case: both call `clock_steps`, so a case's clocks cannot come out differently by the
path taken. The facts are a `ClockSubject`; the clocks are the `SlaClock`s the case's SLA events
carry.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from casemgmt.domain import sla
from casemgmt.domain.lifecycle import Status
from casemgmt.domain.sla import ClockChange, ClockName, ClockTerms, SlaClock

if TYPE_CHECKING:
    from collections.abc import Mapping
    from datetime import datetime
    from uuid import UUID

    from casemgmt.domain.calendar import BusinessCalendar
    from casemgmt.domain.sla_policy import SlaPolicy

# A reopen resumes the resolution clock, then may recompute it: at most three steps per clock.
_STEPS_PER_CLOCK = 3


@dataclass(frozen=True, slots=True)
class ClockSubject:
    """What a case's clocks follow: its status, what the policy chooses targets by, when it was
    received and when its first message went out (a reply or a request for information)."""

    status: Status
    channel: str
    line: str | None
    kind: str | None
    priority: str
    unit: str | None
    received_at: datetime
    first_response_at: datetime | None


@dataclass(frozen=True, slots=True)
class KeptClocks:
    """A case's clocks and what they follow, at one version of the case, as a read model keeps
    them; `clocks` is None when the read model does not know them (the case's events do)."""

    case_id: UUID
    version: int
    subject: ClockSubject
    clocks: dict[ClockName, SlaClock] | None


@dataclass(frozen=True, slots=True)
class ClockStep:
    """One change of one clock, with the clock after it; `extra` is what the event adds (why)."""

    name: ClockName
    change: ClockChange
    clock: SlaClock
    extra: dict[str, Any]


def clock_steps(
    subject: ClockSubject,
    clocks: Mapping[ClockName, SlaClock],
    policy: SlaPolicy,
    at: datetime,
) -> list[ClockStep]:
    """The changes the clocks need at `at`, in the order to record them (none: they are right)."""
    now = dict(clocks)
    steps: list[ClockStep] = []
    terms = _terms(subject, policy)
    for name in ClockName:
        recomputed = False
        for _ in range(_STEPS_PER_CLOCK):
            step = _next_step(name, subject, now.get(name), terms, at, recomputed=recomputed)
            if step is None:
                break
            # Recomputed in the calendar it counted in: doing it again now gives the same clock.
            before = now.get(name)
            same_calendar = (
                before is not None and before.terms.calendar == step.clock.terms.calendar
            )
            recomputed = step.change is ClockChange.RECOMPUTED and same_calendar
            now[name] = step.clock
            steps.append(step)
    return steps


def calendar_named(policy: SlaPolicy, name: str) -> BusinessCalendar:
    """The policy's calendar of that name; the default one if a new policy dropped it."""
    return policy.calendars.get(name) or policy.calendars[policy.default_calendar]


def _next_step(
    name: ClockName,
    subject: ClockSubject,
    clock: SlaClock | None,
    terms_now: _Terms,
    at: datetime,
    *,
    recomputed: bool,
) -> ClockStep | None:
    terms, calendar = terms_now.of[name], terms_now.calendar
    if clock is None:
        if terms is None or subject.status is Status.MERGED:
            return None
        started = sla.started(name, terms, subject.received_at, calendar)
        return ClockStep(name, ClockChange.STARTED, started, {})
    change = sla.next_change(
        clock,
        terms,
        at,
        in_force=calendar_named(terms_now.policy, clock.terms.calendar),
        calendar=calendar,
        ends=_ends(name, subject),
        awaiting=subject.status is Status.AWAITING_CITIZEN,
        recomputed_now=recomputed,
    )
    if change is None:
        return None
    kind, moved, extra = change
    return ClockStep(name, kind, moved, extra)


def _ends(name: ClockName, subject: ClockSubject) -> bool:
    if subject.status in (Status.RESOLVED, Status.CLOSED, Status.MERGED):
        return True
    return name is ClockName.FIRST_RESPONSE and subject.first_response_at is not None


@dataclass(frozen=True, slots=True)
class _Terms:
    """What the policy gives each clock of a case now, and the calendar they count in."""

    policy: SlaPolicy
    of: dict[ClockName, ClockTerms | None]
    calendar: BusinessCalendar


def _terms(subject: ClockSubject, policy: SlaPolicy) -> _Terms:
    target = policy.target_for(
        subject.channel, subject.line, subject.kind, subject.priority, subject.unit
    )
    calendar_name, calendar = policy.calendar_for(target, subject.unit)
    durations = {
        ClockName.FIRST_RESPONSE: target.first_response,
        ClockName.RESOLUTION: target.resolution,
    }
    of = {
        name: None
        if duration is None
        else ClockTerms(str(duration), calendar_name, policy.version, policy.warning_at)
        for name, duration in durations.items()
    }
    return _Terms(policy, of, calendar)
