"""SLA clocks: how long the care centre takes to first answer and to resolve a case.

Each case has two clocks, `first_response` and `resolution`, both started at the case's receipt.
A clock counts working time in a business calendar (`casemgmt.domain.calendar`) towards a target
chosen by the policy (`casemgmt.domain.sla_policy`) from the case's channel, category, priority and
unit. What a clock is at any moment follows from the case's events, so a replay, an `as_of` read or
a rebuild gives the same clocks; this module holds the arithmetic, `Case` records the events.

* A clock's `allowance` is its target as working time, measured from the case's receipt in the
  calendar in force ("P5D" from Friday 16:00 is the working time until Friday 16:00 a week later).
* `used` is the working time it has run, counted in the calendar in force while it ran: time before
  a transfer counts in the old unit's calendar, after it in the new one.
* While running, `due` is when `used` reaches the allowance, and `warning_due` when it reaches the
  policy's `warning_at` share of it. Pausing (the case awaits the citizen) banks `used`; resuming
  sets new instants from what was left. A recompute (new priority, category, unit or policy)
  measures the new target from the receipt and subtracts what was used.

(Just over 300 lines: the clock, its changes and its stored form belong together.)
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Final

from casemgmt.domain.calendar import BusinessDuration

if TYPE_CHECKING:
    from casemgmt.domain.calendar import BusinessCalendar

NO_TIME: Final = timedelta(0)
_MICROSECOND: Final = timedelta(microseconds=1)


class ClockName(StrEnum):
    FIRST_RESPONSE = "first_response"
    RESOLUTION = "resolution"


class ClockState(StrEnum):
    """What the API shows: a clock past its deadline is `breached`, running or stopped late."""

    RUNNING = "running"
    PAUSED = "paused"
    MET = "met"
    BREACHED = "breached"


class ClockChange(StrEnum):
    """What happens to a clock as the case moves on."""

    STARTED = "started"
    PAUSED = "paused"
    RESUMED = "resumed"
    STOPPED = "stopped"
    RECOMPUTED = "recomputed"


class Alarm(StrEnum):
    WARNING = "warning"
    BREACH = "breach"


@dataclass(frozen=True)
class ClockTerms:
    """What the policy says for one clock of a case: the target, its calendar, the policy."""

    target: str  # ISO-8601 business duration, as in the policy ("PT8H", "P5D")
    calendar: str
    policy_version: str
    warning_at: float


@dataclass(frozen=True)
class SlaClock:
    """One clock of one case, as its events have left it."""

    name: ClockName
    terms: ClockTerms
    started_at: datetime
    allowance: timedelta
    used: timedelta  # working time run up to `since` (running) or until paused or stopped
    since: datetime | None  # when the running stretch began; None while paused or stopped
    due: datetime  # the deadline while running (the last one otherwise)
    warning_due: datetime
    stopped_at: datetime | None = None
    warned: bool = False  # a warning is recorded for this overrun
    breached: bool = False  # a breach is recorded for this overrun

    @property
    def running(self) -> bool:
        return self.since is not None

    @property
    def stopped(self) -> bool:
        return self.stopped_at is not None

    def used_at(self, at: datetime, calendar: BusinessCalendar) -> timedelta:
        """The working time the clock has run by `at`."""
        if self.since is None:
            return self.used
        return self.used + calendar.working_time_between(self.since, at)

    @property
    def recorded_state(self) -> ClockState:
        """The state as far as the events say, without a clock to read: running or paused, or,
        once stopped, met or breached. (Whether a running clock's breach is recorded is
        `breached`.)"""
        if self.stopped_at is None:
            return ClockState.RUNNING if self.running else ClockState.PAUSED
        return self.state_at(self.stopped_at)

    def state_at(self, at: datetime) -> ClockState:
        if self.stopped_at is not None:
            late = self.stopped_at > self.due or self.breached
            return ClockState.BREACHED if late else ClockState.MET
        if not self.running:
            return ClockState.PAUSED
        return ClockState.BREACHED if at >= self.due else ClockState.RUNNING

    def remaining_at(self, at: datetime, calendar: BusinessCalendar) -> timedelta:
        """Working time left at `at`; negative by the working time past the deadline."""
        if self.running:
            if at >= self.due:
                return -calendar.working_time_between(self.due, at)
            return calendar.working_time_between(at, self.due)
        until = self.stopped_at if self.stopped_at is not None else at
        return self.allowance - self.used_at(until, calendar)

    def alarms_due_at(self, at: datetime) -> list[Alarm]:
        """The alarms a timer should record now, each once per overrun."""
        if not self.running:
            return []
        alarms = []
        if not self.warned and self.warning_due <= at:
            alarms.append(Alarm.WARNING)
        if not self.breached and self.due <= at:
            alarms.append(Alarm.BREACH)
        return alarms

    @property
    def next_alarm(self) -> datetime | None:
        """When the timer must next look at this clock (None: nothing pending)."""
        if not self.running:
            return None
        pending = [
            *([] if self.warned else [self.warning_due]),
            *([] if self.breached else [self.due]),
        ]
        return min(pending, default=None)


def allowance_of(terms: ClockTerms, started_at: datetime, calendar: BusinessCalendar) -> timedelta:
    """The target as working time, measured from the clock's start in `calendar`."""
    target = _duration(terms.target)
    if not target.days:  # working time measured back from an addition of it is itself
        return target.time
    return calendar.working_time_between(started_at, calendar.add(started_at, target))


def deadlines(
    allowance: timedelta,
    used: timedelta,
    warning_at: float,
    since: datetime,
    calendar: BusinessCalendar,
) -> tuple[datetime, datetime]:
    """The deadline and the warning instant of a clock running from `since` with `used` run.

    A threshold already passed is due at `since`, so the timer records it at once, by the working
    time it is over.
    """
    # In UTC: instants in one zone compare by wall clock, wrong in an autumn's repeated hour.
    due = calendar.add(since, BusinessDuration(time=max(allowance - used, NO_TIME)))
    warn_left = max(allowance * warning_at - used, NO_TIME)
    warning = calendar.add(since, BusinessDuration(time=warn_left))
    return due.astimezone(UTC), warning.astimezone(UTC)


def started(
    name: ClockName, terms: ClockTerms, at: datetime, calendar: BusinessCalendar
) -> SlaClock:
    """A clock that starts at `at` (the case's receipt) under `terms`."""
    allowance = allowance_of(terms, at, calendar)
    due, warning = deadlines(allowance, NO_TIME, terms.warning_at, at, calendar)
    return SlaClock(name, terms, at, allowance, NO_TIME, at, due, warning)


def paused(clock: SlaClock, at: datetime, calendar: BusinessCalendar) -> SlaClock:
    return replace(clock, used=clock.used_at(at, calendar), since=None)


def resumed(clock: SlaClock, at: datetime, calendar: BusinessCalendar) -> SlaClock:
    """Running again from `at` with what was left (after a pause, or a reopen of a resolution).

    A warning or breach already recorded stays recorded while the clock is still past that
    threshold, so neither is recorded twice for one overrun.
    """
    due, warning = deadlines(clock.allowance, clock.used, clock.terms.warning_at, at, calendar)
    return replace(
        clock,
        since=at,
        due=due,
        warning_due=warning,
        stopped_at=None,
        warned=clock.warned and clock.used >= clock.allowance * clock.terms.warning_at,
        breached=clock.breached and clock.used >= clock.allowance,
    )


def stopped(clock: SlaClock, at: datetime, calendar: BusinessCalendar) -> SlaClock:
    return replace(clock, used=clock.used_at(at, calendar), since=None, stopped_at=at)


def recomputed(
    clock: SlaClock,
    terms: ClockTerms,
    at: datetime,
    old_calendar: BusinessCalendar,
    new_calendar: BusinessCalendar,
) -> SlaClock:
    """The clock under new terms from `at`: the time so far counted in the old calendar.

    With time left, the rest counts in the new calendar from `at`. A clock already past the new
    target keeps the instant its running stretch reached it, so its breach is not moved to now.
    """
    allowance = allowance_of(terms, clock.started_at, new_calendar)
    if clock.since is None:
        return replace(clock, terms=terms, allowance=allowance)
    used = clock.used_at(at, old_calendar)
    if used < allowance:
        base = replace(clock, terms=terms, allowance=allowance, used=used, since=None)
        return resumed(base, at, new_calendar)
    due, warning = deadlines(allowance, clock.used, terms.warning_at, clock.since, old_calendar)
    return replace(clock, terms=terms, allowance=allowance, due=due, warning_due=warning)


def next_change(  # noqa: PLR0911 -- one return per kind of change reads best
    clock: SlaClock,
    terms: ClockTerms | None,
    at: datetime,
    *,
    in_force: BusinessCalendar,
    calendar: BusinessCalendar,
    ends: bool,
    awaiting: bool,
    recomputed_now: bool = False,
) -> tuple[ClockChange, SlaClock, dict[str, Any]] | None:
    """The change a started clock needs at `at`, with the clock after it; None when it is right.

    `terms` and `calendar` are what the policy gives the case now, `in_force` the calendar the
    clock counts in so far; `ends`: the clock's event has happened (the first message out, the
    resolution); `awaiting`: the case awaits the citizen. `recomputed_now`: the clock was just
    recomputed at `at` under `terms` in `calendar`, so recomputing it again would give the same
    deadline (and is skipped: it is most of the cost of `sla apply`).
    """
    if clock.stopped:
        if not ends and clock.name is ClockName.RESOLUTION:  # the case was reopened
            return ClockChange.RESUMED, resumed(clock, at, in_force), {}
        return None
    if ends:
        return ClockChange.STOPPED, stopped(clock, at, in_force), {}
    if terms is not None and terms != clock.terms:
        moved = recomputed(clock, terms, at, in_force, calendar)
        return ClockChange.RECOMPUTED, moved, {"reason": describe_change(clock.terms, terms)}
    if clock.running and not recomputed_now:
        # Same terms, but the calendar itself may have changed (a holiday declared at short
        # notice): the deadline moves if it is now a different amount of working time away.
        moved = recomputed(clock, clock.terms, at, in_force, calendar)
        if calendar.working_time_between(*sorted((moved.due, clock.due))) > NO_TIME:
            was, now = _iso(clock.due), _iso(moved.due)
            reason = f"calendar {clock.terms.calendar} changed: due {was} → {now}"
            return ClockChange.RECOMPUTED, moved, {"reason": reason}
    if clock.running and awaiting:
        return ClockChange.PAUSED, paused(clock, at, in_force), {}
    if not clock.running and not awaiting:
        return ClockChange.RESUMED, resumed(clock, at, in_force), {}
    return None


def clock_as_dict(clock: SlaClock) -> dict[str, Any]:
    """The JSON-native form SLA events carry (durations in whole microseconds)."""
    return {
        "name": clock.name.value,
        "target": clock.terms.target,
        "calendar": clock.terms.calendar,
        "policy_version": clock.terms.policy_version,
        "warning_at": clock.terms.warning_at,
        "started_at": clock.started_at,
        "allowance_us": clock.allowance // _MICROSECOND,
        "used_us": clock.used // _MICROSECOND,
        "since": clock.since,
        "due": clock.due,
        "warning_due": clock.warning_due,
        "stopped_at": clock.stopped_at,
        "warned": clock.warned,
        "breached": clock.breached,
    }


def clock_from_dict(data: dict[str, Any]) -> SlaClock:
    terms = ClockTerms(data["target"], data["calendar"], data["policy_version"], data["warning_at"])
    return SlaClock(
        name=ClockName(data["name"]),
        terms=terms,
        started_at=data["started_at"],
        allowance=timedelta(microseconds=data["allowance_us"]),
        used=timedelta(microseconds=data["used_us"]),
        since=data["since"],
        due=data["due"],
        warning_due=data["warning_due"],
        stopped_at=data["stopped_at"],
        warned=data["warned"],
        breached=data["breached"],
    )


_MOMENTS: Final = ("started_at", "since", "due", "warning_due", "stopped_at")


def clock_as_json(clock: SlaClock) -> dict[str, Any]:
    """`clock_as_dict` with its moments as ISO-8601 texts, for JSON stores (the case list)."""
    data = clock_as_dict(clock)
    for name in _MOMENTS:
        if data[name] is not None:
            data[name] = data[name].isoformat()
    return data


def clock_from_json(data: dict[str, Any]) -> SlaClock:
    moments = {n: None if data[n] is None else datetime.fromisoformat(data[n]) for n in _MOMENTS}
    return clock_from_dict({**data, **moments})


def describe_change(before: ClockTerms, after: ClockTerms) -> str:
    """Why a deadline moved, in words: "target PT8H → PT2H; calendar office → 24x7"."""
    parts = [
        f"{label} {old} → {new}"
        for label, old, new in (
            ("policy", before.policy_version, after.policy_version),
            ("target", before.target, after.target),
            ("calendar", before.calendar, after.calendar),
            ("warning at", before.warning_at, after.warning_at),
        )
        if old != new
    ]
    return "; ".join(parts)


@functools.lru_cache(maxsize=256)
def _duration(text: str) -> BusinessDuration:
    """A policy's targets are few and parsed on every command: parse each once."""
    return BusinessDuration.parse(text)


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="minutes")
