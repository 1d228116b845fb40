"""The working intervals of a span of days laid end to end, for arithmetic by binary search.

A `BusinessCalendar` walks day by day to add or measure working time: simple, and right for any
calendar, but it costs a loop over every day in between, which is most of the price of
recomputing a million deadlines (`casemgmt sla apply`). A `Timeline` holds the same intervals, in
UTC microseconds, over a span of days, with the working time before each one: the working time
between two instants is then a difference of two lookups, and the instant a duration runs out is
found by bisecting those sums. Answers are the walking code's exactly; the calendar keeps that code
for instants outside the span (and as the reference its tests compare this with).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable


@dataclass(frozen=True, slots=True)
class Timeline:
    """Working intervals `[starts[i], ends[i])` of the days `first`…`last`, in order, with
    `before[i]` the working time of the intervals before interval i; instants in `(low, high]`
    (after the first day's midnight, up to the midnight after the last day) can be asked about."""

    first: date
    last: date
    low: int
    high: int
    starts: list[int]
    ends: list[int]
    before: list[int]
    through: list[int]  # before[i] + the length of interval i
    working_days: list[int]  # ordinals of the days that have working time

    @classmethod
    def build(
        cls,
        first: date,
        last: date,
        intervals: Callable[[date], tuple[tuple[int, int], ...]],
        midnight: Callable[[date], int],
    ) -> Timeline:
        """The timeline of `first`…`last`, from each day's intervals and its midnight instant."""
        starts: list[int] = []
        ends: list[int] = []
        before: list[int] = []
        through: list[int] = []
        working_days: list[int] = []
        total = 0
        for ordinal in range(first.toordinal(), last.toordinal() + 1):
            spans = intervals(date.fromordinal(ordinal))
            if spans:
                working_days.append(ordinal)
            for start, end in spans:
                starts.append(start)
                ends.append(end)
                before.append(total)
                total += end - start
                through.append(total)
        low, high = midnight(first), midnight(date.fromordinal(last.toordinal() + 1))
        return cls(first, last, low, high, starts, ends, before, through, working_days)

    def covers(self, moment: int) -> bool:
        """Whether `moment` can be asked about: after the first day's midnight (an interval of the
        day before may close at that very instant, and it is not here), up to the last midnight."""
        return self.low < moment <= self.high

    def elapsed(self, moment: int) -> int:
        """The working time from the timeline's start to `moment` (which it covers)."""
        i = bisect_right(self.starts, moment) - 1
        if i < 0:
            return 0
        return self.before[i] + min(moment, self.ends[i]) - self.starts[i]

    def between(self, low: int, high: int) -> int:
        """The working time in `[low, high)`, both covered."""
        return self.elapsed(high) - self.elapsed(low)

    def add(self, start: int, amount: int) -> int | None:
        """The earliest instant `amount` of working time after `start` (a closing instant when
        that uses an interval up; `start` itself, or the next opening, for no time at all);
        None when that lies beyond the timeline."""
        if amount == 0:
            i = bisect_left(self.ends, start)
            return None if i == len(self.ends) else max(start, self.starts[i])
        target = self.elapsed(start) + amount
        i = bisect_left(self.through, target)
        if i == len(self.through):
            return None
        return self.starts[i] + target - self.before[i]

    def working_day_after(self, day: date, count: int) -> date | None:
        """The `count`-th working day after `day` (None: beyond the timeline)."""
        i = bisect_right(self.working_days, day.toordinal()) + count - 1
        if count < 1 or i >= len(self.working_days) or day < self.first:
            return None
        return date.fromordinal(self.working_days[i])
