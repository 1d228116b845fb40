"""Business time: the working hours of a unit, and deadlines counted in them.

A `BusinessCalendar` knows a time zone, the working intervals of each weekday (breaks are the gaps),
public holidays, extra closed days, extra working days with their own hours (Vietnam swaps working
days around holidays), or that it is always open. Working hours are wall-clock times in the
calendar's zone; each day's intervals are turned into UTC instants once, so DST changes count the
time that actually elapses. A wall time that does not exist (the hour skipped in spring) stands for
the moment the clocks jump; one that occurs twice (autumn) stands for its first occurrence.

Conventions (the SLA clocks rely on them):

* Working time is the union of the half-open intervals [opening, closing).
* `add(start, d)` is the earliest instant at which `d` of working time has elapsed since `start`.
  A deadline that uses up an interval exactly is that interval's closing instant (11:30, not 13:00
  after lunch): a deadline is never in closed time, "working time" here including closing instants.
  `add(start, PT0S)` is `start` when it is in working time, else the next opening.
* Days count working days: `P5D` is the same point of the working day five working days later, the
  point being the working time elapsed since that day's opening. A start in closed time first moves
  to the next opening; a target day too short for the point ends at its closing. `P1DT2H` adds the
  days first, then the hours. In an always-open calendar a day is 24 hours.
* `PnW` is n working weeks of 5 working days each (`P2W` == `P10D`), whatever the calendar's week.
  Years and months are refused: they are no fixed amount of working time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from itertools import pairwise
from typing import TYPE_CHECKING, Final
from zoneinfo import ZoneInfo

from casemgmt.domain.timeline import Timeline

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

WEEKDAYS: Final = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
WORKING_DAYS_PER_WEEK: Final = 5

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND: Final = timedelta(microseconds=1)
_ONE_DAY: Final = timedelta(days=1)
_SECOND: Final = 1_000_000  # microseconds
# A calendar without a working day in ten years is misconfigured; stop instead of looping forever.
_LONGEST_CLOSURE_DAYS: Final = 3660
_CACHED_DAYS: Final = 50_000
# The timeline (see `casemgmt.domain.timeline`) spans the days asked about, a month before and a
# year after; beyond 30 years the arithmetic walks the days instead.
_TIMELINE_BEFORE: Final = timedelta(days=31)
_TIMELINE_AFTER: Final = timedelta(days=366)
_TIMELINE_DAYS: Final = 30 * 366

_DURATION: Final = re.compile(
    r"P(?!$)(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?=\d)(?:(?P<hours>\d+(?:[.,]\d+)?)H)?(?:(?P<minutes>\d+(?:[.,]\d+)?)M)?"
    r"(?:(?P<seconds>\d+(?:[.,]\d+)?)S)?)?",
    re.ASCII,
)
_INTERVAL: Final = re.compile(r"(\d\d):(\d\d)-(\d\d):(\d\d)", re.ASCII)


class CalendarError(ValueError):
    """A calendar or duration that cannot be used; the message says what is wrong."""


@dataclass(frozen=True)
class BusinessDuration:
    """A target such as `P5D` or `PT4H`: working days, then working time."""

    days: int = 0
    time: timedelta = timedelta(0)

    def __post_init__(self) -> None:
        if self.days < 0 or self.time < timedelta(0):
            raise CalendarError(f"a duration cannot be negative: {self.days} days, {self.time}")

    @classmethod
    def parse(cls, text: str) -> BusinessDuration:
        """The duration an ISO-8601 `PnWnDTnHnMnS` text stands for (fractions on the last part)."""
        match = _DURATION.fullmatch(text) if isinstance(text, str) else None
        if match is None:
            if isinstance(text, str) and re.match(r"P[^T]*[YM]", text):
                raise CalendarError(
                    f"{text!r} counts years or months, which are no fixed amount of working time; "
                    "use working days (P20D) or weeks (P4W)"
                )
            raise CalendarError(f"{text!r} is not an ISO-8601 duration")
        parts = match.groupdict()
        weeks, days = int(parts["weeks"] or 0), int(parts["days"] or 0)
        given = [value for value in (parts["hours"], parts["minutes"], parts["seconds"]) if value]
        if any(not value.isdigit() for value in given[:-1]):
            raise CalendarError(f"{text!r}: only its last part may have a fraction")
        seconds = {"hours": 3600, "minutes": 60, "seconds": 1}
        micro = sum(
            (
                Decimal(parts[n].replace(",", ".")) * s * _SECOND
                for n, s in seconds.items()
                if parts[n]
            ),
            Decimal(0),
        )
        if micro != micro.to_integral_value():
            raise CalendarError(f"{text!r} is finer than a microsecond")
        return cls(weeks * WORKING_DAYS_PER_WEEK + days, timedelta(microseconds=int(micro)))

    def __str__(self) -> str:
        if not self.days and not self.time:
            return "PT0S"
        text = f"P{self.days}D" if self.days else "P"
        if self.time:
            hours, rest = divmod(self.time // _MICROSECOND, 3600 * _SECOND)
            minutes, rest = divmod(rest, 60 * _SECOND)
            seconds, micro = divmod(rest, _SECOND)
            text += "T" + (f"{hours}H" if hours else "") + (f"{minutes}M" if minutes else "")
            if micro:
                text += f"{seconds}.{micro:06d}".rstrip("0") + "S"
            elif seconds:
                text += f"{seconds}S"
        return text


@dataclass(frozen=True, order=True)
class WorkingInterval:
    """Wall-clock working time within one day, in minutes after midnight ("07:30-11:30")."""

    start: int
    end: int

    def __post_init__(self) -> None:
        if not 0 <= self.start < self.end <= 24 * 60:
            raise CalendarError(f"{self} is not a time range within one day")

    @classmethod
    def parse(cls, text: str) -> WorkingInterval:
        match = _INTERVAL.fullmatch(text) if isinstance(text, str) else None
        if match is None:
            raise CalendarError(f"{text!r} is not a time range like '07:30-11:30'")
        start_h, start_m, end_h, end_m = (int(part) for part in match.groups())
        if start_h > 23 or end_h > 24 or start_m > 59 or end_m > 59 or (end_h == 24 and end_m):
            raise CalendarError(f"{text!r} is not a range of times of day (00:00 to 24:00)")
        start, end = start_h * 60 + start_m, end_h * 60 + end_m
        if end <= start:
            problem = "ends before it starts" if end < start else "is empty"
            raise CalendarError(f"{text!r} {problem}")
        return cls(start, end)

    def __str__(self) -> str:
        return f"{_clock(self.start)}-{_clock(self.end)}"


Hours = tuple[WorkingInterval, ...]


@dataclass(frozen=True)
class BusinessCalendar:
    """When a unit works: weekly hours in a time zone, minus closed days, plus extra working days.

    `public_holidays` is a set of dates or a predicate (injected: the domain knows no country).
    An extra working day's hours replace the weekday's and win over holidays and closed days.
    """

    timezone: ZoneInfo = field(default_factory=lambda: ZoneInfo("UTC"))
    week: tuple[Hours, ...] = ((),) * 7
    public_holidays: frozenset[date] | Callable[[date], bool] = frozenset()
    closed_days: frozenset[date] = frozenset()
    open_days: Mapping[date, Hours] = field(default_factory=dict, hash=False)
    always_open: bool = False
    # Each day's intervals as UTC microseconds, computed once: the arithmetic then only adds ints.
    _days: dict[date, tuple[tuple[int, int], ...]] = field(
        default_factory=dict, init=False, repr=False, compare=False, hash=False
    )
    _midnight_closing: bool = field(default=False, init=False, repr=False, compare=False)
    _timeline: Timeline | None = field(
        default=None, init=False, repr=False, compare=False, hash=False
    )

    def __post_init__(self) -> None:
        if len(self.week) != 7:
            raise CalendarError("a week has seven days of working hours, Monday first")
        for hours in (*self.week, *self.open_days.values()):
            if any(a.end > b.start for a, b in pairwise(hours)):
                raise CalendarError(f"working intervals overlap or are out of order: {hours}")
        closings = (h.end for hours in (*self.week, *self.open_days.values()) for h in hours)
        object.__setattr__(self, "_midnight_closing", 24 * 60 in closings)

    def is_holiday(self, day: date) -> bool:
        holidays = self.public_holidays
        return day in holidays if isinstance(holidays, frozenset) else holidays(day)

    def is_open(self, at: datetime) -> bool:
        """Whether `at` is working time (closing instants are not: the office has just closed)."""
        now = _micros(at)
        if self.always_open:
            return True
        day = at.astimezone(self.timezone).date()
        return any(a <= now < b for a, b in self._intervals(day))

    def add(self, start: datetime, duration: BusinessDuration) -> datetime:
        """The deadline `duration` after `start`, in the calendar's time zone."""
        if self.always_open:
            due = timedelta(microseconds=_micros(start), days=duration.days) + duration.time
            return (_EPOCH + due).astimezone(self.timezone)
        day: date | None = None
        at = _micros(start)
        if duration.days:
            day, at = self._add_days(*self._first_day(start), duration.days)
        amount = duration.time // _MICROSECOND
        done = self._add_on_timeline(at, amount)
        if done is None:
            if day is None:
                day, at = self._first_day(start)
            done = self._add_time(day, at, amount)
        return (_EPOCH + timedelta(microseconds=done)).astimezone(self.timezone)

    def working_time_between(self, start: datetime, end: datetime) -> timedelta:
        """The working time in [start, end); nothing when `end` is not after `start`."""
        low, high = _micros(start), _micros(end)
        if high <= low:
            return timedelta(0)
        if self.always_open:
            return timedelta(microseconds=high - low)
        timeline = self._timeline_over(low, high)
        if timeline is not None:
            return timedelta(microseconds=timeline.between(low, high))
        day, last = start.astimezone(self.timezone).date(), end.astimezone(self.timezone).date()
        total = 0
        while day <= last:
            for a, b in self._intervals(day):
                total += max(0, min(b, high) - max(a, low))
            day += _ONE_DAY
        return timedelta(microseconds=total)

    def _add_on_timeline(self, at: int, amount: int) -> int | None:
        """`_add_time` by the timeline, grown a year or two at a time; None past its longest
        span."""
        timeline = self._timeline_over(at, at)
        while timeline is not None:
            done = timeline.add(at, amount)
            if done is not None:
                return done
            timeline = self._timeline_over(at, timeline.high + _TIMELINE_AFTER // _MICROSECOND)
        return None

    def _timeline_over(self, low: int, high: int) -> Timeline | None:
        """A timeline covering the instants `low` and `high`, the one kept if it does; None when
        that would span more than `_TIMELINE_DAYS`."""
        timeline = self._timeline
        if timeline is not None and timeline.covers(low) and timeline.covers(high):
            return timeline
        try:
            first = (_EPOCH + timedelta(microseconds=low)).astimezone(self.timezone).date()
            last = (_EPOCH + timedelta(microseconds=high)).astimezone(self.timezone).date()
            first, last = first - _TIMELINE_BEFORE, last + _TIMELINE_AFTER
        except OverflowError:  # within a year of the ends of dates (years 1, 9999): walk the days
            return None
        if (
            timeline is not None
            and (max(last, timeline.last) - min(first, timeline.first)).days < _TIMELINE_DAYS
        ):
            first, last = min(first, timeline.first), max(last, timeline.last)
        if (last - first).days >= _TIMELINE_DAYS:
            return None
        timeline = Timeline.build(first, last, self._intervals, lambda day: self._instant(day, 0))
        object.__setattr__(self, "_timeline", timeline)
        return timeline

    def _first_day(self, start: datetime) -> tuple[date, int]:
        at = _micros(start)
        day = start.astimezone(self.timezone).date()
        # An interval ending at 24:00 closes at the next day's first instant: that still counts.
        if self._midnight_closing:
            previous = self._intervals(day - _ONE_DAY)
            if previous and previous[-1][1] >= at:
                day -= _ONE_DAY
        return day, at

    def _add_time(self, day: date, at: int, amount: int) -> int:
        closed_run = 0
        while True:
            intervals = self._intervals(day)
            for a, b in intervals:
                if b < at:
                    continue
                at = max(at, a)
                if amount <= b - at:
                    return at + amount
                amount, at = amount - (b - at), b
            closed_run = 0 if intervals else self._count_closed(closed_run, day)
            day += _ONE_DAY

    def _add_days(self, day: date, at: int, days: int) -> tuple[date, int]:
        day, elapsed = self._point_of_day(day, at)
        timeline = self._timeline_over(at, at)
        later = None if timeline is None else timeline.working_day_after(day, days)
        if later is not None:
            day = later
        else:
            for _ in range(days):
                day = self._next_working_day(day)
        remaining = elapsed
        intervals = self._intervals(day)
        for a, b in intervals:
            if remaining <= b - a:
                return day, a + remaining
            remaining -= b - a
        return day, intervals[-1][1]  # the target day is shorter: its closing

    def _point_of_day(self, day: date, at: int) -> tuple[date, int]:
        """The working day `at` belongs to (or the next one) and the working time elapsed in it."""
        elapsed = 0
        for a, b in self._intervals(day):
            if at <= b:
                return day, elapsed + max(0, at - a)
            elapsed += b - a
        return self._next_working_day(day), 0

    def _next_working_day(self, day: date) -> date:
        closed_run = 0
        day += _ONE_DAY
        while not self._intervals(day):
            closed_run = self._count_closed(closed_run, day)
            day += _ONE_DAY
        return day

    def _count_closed(self, closed_run: int, day: date) -> int:
        if closed_run >= _LONGEST_CLOSURE_DAYS:
            raise CalendarError(f"no working time in the {closed_run} days before {day}")
        return closed_run + 1

    def _intervals(self, day: date) -> tuple[tuple[int, int], ...]:
        cached = self._days.get(day)
        if cached is not None:
            return cached
        hours = self.open_days.get(day)
        if hours is None:
            closed = day in self.closed_days or self.is_holiday(day)
            hours = () if closed else self.week[day.weekday()]
        spans = ((self._instant(day, h.start), self._instant(day, h.end)) for h in hours)
        intervals = tuple((a, b) for a, b in spans if a < b)  # an interval in a DST gap is empty
        if len(self._days) >= _CACHED_DAYS:
            self._days.clear()
        self._days[day] = intervals
        return intervals

    def _instant(self, day: date, minute: int) -> int:
        """The first moment the wall clock shows `minute` on `day` (the jump, if it never does)."""
        if minute == 24 * 60:
            day, minute = day + _ONE_DAY, 0
        wall = datetime.combine(day, time(minute // 60, minute % 60), self.timezone)
        moment = _micros(wall)
        shown = (_EPOCH + timedelta(microseconds=moment)).astimezone(self.timezone)
        if shown.replace(tzinfo=None) == wall.replace(tzinfo=None):
            return moment
        # Skipped in spring: fold=1 reads the wall time with the offset after the jump, which puts
        # it before the jump; search the seconds in between for the jump itself.
        before, after = _micros(wall.replace(fold=1)) // _SECOND, moment // _SECOND
        offset = shown.utcoffset()
        while after - before > 1:
            middle = (before + after) // 2
            probe = _EPOCH + timedelta(seconds=middle)
            if probe.astimezone(self.timezone).utcoffset() == offset:
                after = middle
            else:
                before = middle
        return after * _SECOND


def _clock(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


def _micros(at: datetime) -> int:
    if at.utcoffset() is None:
        raise CalendarError(f"{at.isoformat()} has no time zone")
    return (at - _EPOCH) // _MICROSECOND
