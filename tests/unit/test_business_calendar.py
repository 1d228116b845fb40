"""Business time: deadlines and working time in a unit's calendar, across holidays and DST."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import holidays
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from casemgmt.domain.calendar import (
    BusinessCalendar,
    BusinessDuration,
    CalendarError,
    Hours,
    WorkingInterval,
)

HCM = ZoneInfo("Asia/Ho_Chi_Minh")
WARSAW = ZoneInfo("Europe/Warsaw")
YEARS = range(2025, 2030)
VN_HOLIDAYS = frozenset(holidays.country_holidays("VN", years=YEARS))
PL_HOLIDAYS = frozenset(holidays.country_holidays("PL", years=YEARS))


def hours(*ranges: str) -> Hours:
    return tuple(WorkingInterval.parse(text) for text in ranges)


def weekdays(*ranges: str) -> tuple[Hours, ...]:
    return (hours(*ranges),) * 5 + ((), ())


def due(text: str) -> BusinessDuration:
    return BusinessDuration.parse(text)


OFFICE = BusinessCalendar(HCM, weekdays("07:30-11:30", "13:00-16:30"), VN_HOLIDAYS)
# The holidays as a predicate, the way the policy file injects them.
POLAND = BusinessCalendar(WARSAW, weekdays("08:00-16:00"), PL_HOLIDAYS.__contains__)
# Every night but Friday's, hours that touch the hour Warsaw skips in March and repeats in
# October; Friday's shift closes at midnight with nothing after it.
NIGHTS = hours("00:00-02:30", "03:00-06:00", "22:00-24:00")
NIGHT_DESK = BusinessCalendar(WARSAW, (NIGHTS,) * 5 + ((), NIGHTS))
SWAPPED_OFFICE = BusinessCalendar(
    HCM,
    weekdays("07:30-11:30", "13:00-16:30"),
    VN_HOLIDAYS,
    closed_days=frozenset({date(2026, 12, 31), date(2027, 2, 1)}),
    open_days={date(2027, 2, 20): hours("07:30-11:30"), date(2026, 11, 28): hours("07:30-11:30")},
)
CALENDARS = {
    "office": OFFICE,
    "poland": POLAND,
    "night_desk": NIGHT_DESK,
    "swapped_office": SWAPPED_OFFICE,
}


def hcm(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=HCM)


def warsaw(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=WARSAW)


# Examples ----------------------------------------------------------------------------------------


def test_a_case_received_late_on_friday_is_due_on_monday_morning() -> None:
    assert OFFICE.add(hcm(2026, 11, 27, 16, 0), due("PT4H")) == hcm(2026, 11, 30, 11, 0)


def test_the_lunch_break_is_not_counted() -> None:
    wednesday = hcm(2026, 11, 25, 11, 0)
    assert OFFICE.add(wednesday, due("PT4H")) == hcm(2026, 11, 25, 16, 30)


def test_tet_holidays_are_skipped() -> None:
    tet = sorted(
        day
        for day, name in holidays.country_holidays("VN", years=2026).items()
        if "Lunar New Year" in name
    )
    friday_before = tet[0] - timedelta(days=(tet[0].weekday() - 4) % 7 or 7)
    back_at_work = tet[-1] + timedelta(days=1)
    while back_at_work.weekday() >= 5 or back_at_work in VN_HOLIDAYS:
        back_at_work += timedelta(days=1)
    received = datetime.combine(friday_before, time(16, 0), HCM)

    deadline = OFFICE.add(received, due("PT4H"))

    assert deadline == datetime.combine(back_at_work, time(11, 0), HCM)
    without_holidays = BusinessCalendar(HCM, OFFICE.week)
    assert without_holidays.add(received, due("PT4H")).date() == tet[0]
    assert OFFICE.working_time_between(received, deadline) == timedelta(hours=4)


def test_a_polish_deadline_across_the_march_change_is_on_the_wall_clock() -> None:
    deadline = POLAND.add(warsaw(2026, 3, 27, 15, 0), due("PT8H"))

    assert deadline.isoformat() == "2026-03-30T15:00:00+02:00"
    assert warsaw(2026, 3, 27, 15, 0).utcoffset() == timedelta(hours=1)


def test_a_polish_deadline_across_the_october_change_is_on_the_wall_clock() -> None:
    deadline = POLAND.add(warsaw(2026, 10, 23, 15, 0), due("PT8H"))

    assert deadline.isoformat() == "2026-10-26T15:00:00+01:00"


@pytest.mark.parametrize(
    ("friday", "tuesday", "elapsed_hours"),
    [((2026, 3, 27), (2026, 3, 31), 95), ((2026, 10, 23), (2026, 10, 27), 97)],
)
def test_working_time_across_a_dst_change_counts_only_the_working_hours(
    friday: tuple[int, int, int], tuesday: tuple[int, int, int], elapsed_hours: int
) -> None:
    start, end = warsaw(*friday, 8), warsaw(*tuesday, 8)

    assert POLAND.working_time_between(start, end) == timedelta(hours=16)
    assert end.astimezone(UTC) - start.astimezone(UTC) == timedelta(hours=elapsed_hours)


@pytest.mark.parametrize(
    ("day", "worked"),
    [((2026, 3, 26), 5.5), ((2026, 3, 29), 5.0), ((2026, 10, 25), 5.5)],
)
def test_night_hours_count_the_time_that_elapses_when_the_clocks_change(
    day: tuple[int, int, int], worked: float
) -> None:
    # 00:00-02:30 and 03:00-06:00: in March 02:30 never shows, so the first interval ends at the
    # jump (02:00 → 03:00); in October it ends the first time the clocks show 02:30.
    midnight, noon = warsaw(*day, 0), warsaw(*day, 12)
    assert NIGHT_DESK.working_time_between(midnight, noon) == timedelta(hours=worked)


def test_hours_that_start_in_the_skipped_hour_open_when_the_clocks_jump() -> None:
    calendar = BusinessCalendar(WARSAW, (hours("02:30-04:00"),) * 7)

    opening = calendar.add(warsaw(2026, 3, 29, 0, 0), due("PT0S"))

    assert opening.isoformat() == "2026-03-29T03:00:00+02:00"


def test_a_shift_that_ends_at_midnight_works_until_the_next_day_begins() -> None:
    saturday = warsaw(2026, 11, 28, 0, 0)  # Friday's shift has just closed; Saturday is closed

    assert NIGHT_DESK.add(saturday, due("PT0S")) == saturday
    assert NIGHT_DESK.add(warsaw(2026, 11, 27, 23, 0), due("PT1H")) == saturday
    assert NIGHT_DESK.working_time_between(warsaw(2026, 11, 27, 12), saturday) == timedelta(hours=2)


def test_an_extra_closed_day_moves_the_deadline() -> None:
    closed_monday = BusinessCalendar(HCM, OFFICE.week, closed_days=frozenset({date(2026, 11, 30)}))
    assert closed_monday.add(hcm(2026, 11, 27, 16, 0), due("PT4H")) == hcm(2026, 12, 1, 11, 0)


def test_an_extra_working_saturday_brings_the_deadline_forward() -> None:
    assert SWAPPED_OFFICE.add(hcm(2026, 11, 27, 16, 0), due("PT4H")) == hcm(2026, 11, 28, 11, 0)


def test_an_extra_working_day_wins_over_a_public_holiday() -> None:
    cultural_day = date(2026, 11, 24)  # a Tuesday, a public holiday in Vietnam
    assert cultural_day in VN_HOLIDAYS
    worked = BusinessCalendar(
        HCM, OFFICE.week, VN_HOLIDAYS, open_days={cultural_day: hours("08:00-10:00")}
    )
    assert worked.add(hcm(2026, 11, 23, 16, 0), due("PT1H")) == hcm(2026, 11, 24, 8, 30)


def test_a_deadline_that_uses_up_the_morning_is_the_morning_closing() -> None:
    assert OFFICE.add(hcm(2026, 11, 25, 7, 30), due("PT4H")) == hcm(2026, 11, 25, 11, 30)
    assert not OFFICE.is_open(hcm(2026, 11, 25, 11, 30))
    assert OFFICE.is_open(hcm(2026, 11, 25, 11, 30) - timedelta(microseconds=1))


@pytest.mark.parametrize(
    ("start", "expected"),
    [
        (hcm(2026, 11, 25, 9, 0), hcm(2026, 11, 25, 9, 0)),  # working: where it is
        (hcm(2026, 11, 25, 11, 30), hcm(2026, 11, 25, 11, 30)),  # a closing instant
        (hcm(2026, 11, 25, 12, 0), hcm(2026, 11, 25, 13, 0)),  # lunch: the next opening
        (hcm(2026, 11, 27, 18, 0), hcm(2026, 11, 30, 7, 30)),  # Friday evening: Monday
    ],
)
def test_no_time_at_all_is_the_start_or_the_next_opening(
    start: datetime, expected: datetime
) -> None:
    assert OFFICE.add(start, due("PT0S")) == expected


@pytest.mark.parametrize(
    ("start", "duration", "expected"),
    [
        (hcm(2026, 11, 30, 10, 0), "P5D", hcm(2026, 12, 7, 10, 0)),
        (hcm(2026, 11, 25, 12, 0), "P5D", hcm(2026, 12, 2, 11, 30)),  # lunch: 4 hours into the day
        (hcm(2026, 11, 27, 17, 0), "P1D", hcm(2026, 12, 1, 7, 30)),  # after closing: from Monday
        (hcm(2026, 11, 25, 9, 0), "P1DT2H", hcm(2026, 11, 26, 11, 0)),
        (hcm(2026, 11, 25, 10, 0), "P1DT2H", hcm(2026, 11, 26, 13, 30)),  # the hours skip lunch
        (hcm(2026, 12, 4, 10, 0), "P2W", hcm(2026, 12, 18, 10, 0)),
        (hcm(2026, 11, 23, 10, 0), "P1D", hcm(2026, 11, 25, 10, 0)),  # the 24th is a holiday
    ],
)
def test_days_count_working_days_at_the_same_point_of_the_day(
    start: datetime, duration: str, expected: datetime
) -> None:
    assert OFFICE.add(start, due(duration)) == expected


def test_a_target_day_shorter_than_the_point_ends_at_its_closing() -> None:
    friday_afternoon = hcm(2026, 11, 27, 15, 0)  # 6.5 working hours into Friday
    assert SWAPPED_OFFICE.add(friday_afternoon, due("P1D")) == hcm(2026, 11, 28, 11, 30)


def test_an_always_open_calendar_counts_days_as_24_hours_even_across_dst() -> None:
    always = BusinessCalendar(WARSAW, always_open=True)
    saturday = warsaw(2026, 3, 28, 12, 0)

    assert always.add(saturday, due("P1D")).isoformat() == "2026-03-29T13:00:00+02:00"
    assert always.working_time_between(saturday, warsaw(2026, 3, 29, 12)) == timedelta(hours=23)


def test_a_calendar_without_working_time_refuses_instead_of_looping() -> None:
    never = BusinessCalendar(HCM, OFFICE.week, lambda day: True)
    with pytest.raises(CalendarError, match="no working time"):
        never.add(hcm(2026, 11, 25, 9, 0), due("PT1H"))


def test_a_time_without_a_zone_is_refused() -> None:
    with pytest.raises(CalendarError, match="has no time zone"):
        OFFICE.add(datetime(2026, 11, 25, 9, 0), due("PT1H"))


@pytest.mark.parametrize(
    ("text", "days", "time", "normal"),
    [
        ("PT4H", 0, timedelta(hours=4), "PT4H"),
        ("P5D", 5, timedelta(0), "P5D"),
        ("P1DT2H", 1, timedelta(hours=2), "P1DT2H"),
        ("P2W", 10, timedelta(0), "P10D"),
        ("PT90M", 0, timedelta(minutes=90), "PT1H30M"),
        ("PT1.5H", 0, timedelta(minutes=90), "PT1H30M"),
        ("PT0,25S", 0, timedelta(milliseconds=250), "PT0.25S"),
        ("P0D", 0, timedelta(0), "PT0S"),
    ],
)
def test_durations_are_parsed_from_iso_8601_and_written_back(
    text: str, days: int, time: timedelta, normal: str
) -> None:
    duration = due(text)
    assert (duration.days, duration.time) == (days, time)
    assert str(duration) == normal


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("PT2X", "'PT2X' is not an ISO-8601 duration"),
        ("P", "'P' is not an ISO-8601 duration"),
        ("PT", "'PT' is not an ISO-8601 duration"),
        ("-PT1H", "'-PT1H' is not an ISO-8601 duration"),
        ("P1.5D", "'P1.5D' is not an ISO-8601 duration"),
        ("P1M", "'P1M' counts years or months"),
        ("P1Y2D", "'P1Y2D' counts years or months"),
        ("PT1.5H30M", "only its last part may have a fraction"),
    ],
)
def test_durations_that_are_not_working_time_are_refused(text: str, message: str) -> None:
    with pytest.raises(CalendarError, match=message.replace(".", r"\.")):
        due(text)


# Properties --------------------------------------------------------------------------------------


def _dst_changes(year: int) -> list[datetime]:
    """The UTC instants of the European changes: 01:00 UTC on the last Sundays of March, October."""
    changes = []
    for month in (3, 10):
        last = date(year, month, 31)
        last -= timedelta(days=(last.weekday() - 6) % 7)
        changes.append(datetime.combine(last, time(1, 0), UTC))
    return changes


SPECIAL_MOMENTS = sorted(
    [change for year in YEARS for change in _dst_changes(year)]
    + [datetime.combine(day, time(0, 0), HCM) for day in VN_HOLIDAYS]
    + [datetime.combine(day, time(0, 0), WARSAW) for day in PL_HOLIDAYS]
)
# Openings, closings and lunch of both offices, and midnight: where off-by-one errors live.
EDGES = [time(hour, minute) for hour, minute in ((0, 0), (7, 30), (8, 0), (11, 30), (13, 0))]
EDGES += [time(hour, minute) for hour, minute in ((16, 0), (16, 30), (2, 30), (3, 0), (22, 0))]

anywhere = st.datetimes(datetime(2025, 1, 1), datetime(2029, 6, 30), timezones=st.just(UTC))
near_special = st.builds(
    lambda moment, minutes: moment + timedelta(minutes=minutes),
    st.sampled_from(SPECIAL_MOMENTS),
    st.integers(-4 * 24 * 60, 4 * 24 * 60),
)
on_an_edge = st.builds(
    datetime.combine,
    st.dates(date(2025, 1, 1), date(2029, 6, 30)),
    st.sampled_from(EDGES),
    st.sampled_from([HCM, WARSAW]),
)
instants = st.one_of(anywhere, near_special, on_an_edge).map(lambda moment: moment.astimezone(UTC))
time_amounts = st.one_of(
    st.integers(0, 80).map(lambda half_hours: timedelta(minutes=30 * half_hours)),
    st.timedeltas(timedelta(0), timedelta(hours=60)),
)
time_durations = time_amounts.map(lambda amount: BusinessDuration(time=amount))
durations = st.builds(BusinessDuration, st.integers(0, 12), time_amounts)
calendars = pytest.mark.parametrize("calendar", CALENDARS.values(), ids=CALENDARS.keys())
PROPERTIES = settings(max_examples=300, deadline=None)


def _in_working_time(calendar: BusinessCalendar, moment: datetime) -> bool:
    """Open at `moment`, or `moment` closes an interval (working time right before it)."""
    just_before = moment - timedelta(microseconds=1)
    return calendar.is_open(moment) or bool(calendar.working_time_between(just_before, moment))


@calendars
@PROPERTIES
@given(start=instants, duration=time_durations)
def test_the_working_time_until_a_deadline_is_its_duration(
    calendar: BusinessCalendar, start: datetime, duration: BusinessDuration
) -> None:
    assert calendar.working_time_between(start, calendar.add(start, duration)) == duration.time


@calendars
@PROPERTIES
@given(start=instants, duration=durations)
def test_a_deadline_never_falls_in_closed_time(
    calendar: BusinessCalendar, start: datetime, duration: BusinessDuration
) -> None:
    deadline = calendar.add(start, duration)
    assert deadline.astimezone(UTC) >= start
    assert deadline.tzinfo is calendar.timezone
    assert _in_working_time(calendar, deadline)


@calendars
@PROPERTIES
@given(start=instants)
def test_no_time_at_all_is_the_start_when_working_else_the_next_opening(
    calendar: BusinessCalendar, start: datetime
) -> None:
    opening = calendar.add(start, BusinessDuration()).astimezone(UTC)
    if _in_working_time(calendar, start):
        assert opening == start
    else:
        assert opening > start
        assert calendar.is_open(opening)
        assert calendar.working_time_between(start, opening) == timedelta(0)


@calendars
@PROPERTIES
@given(starts=st.lists(instants, min_size=2, max_size=2).map(sorted), duration=durations)
def test_a_later_start_never_gives_an_earlier_deadline(
    calendar: BusinessCalendar, starts: list[datetime], duration: BusinessDuration
) -> None:
    early, late = starts
    assert calendar.add(early, duration).astimezone(UTC) <= calendar.add(late, duration).astimezone(
        UTC
    )


@calendars
@PROPERTIES
@given(start=instants, shorter=durations, extra=durations)
def test_a_longer_target_never_gives_an_earlier_deadline(
    calendar: BusinessCalendar,
    start: datetime,
    shorter: BusinessDuration,
    extra: BusinessDuration,
) -> None:
    longer = BusinessDuration(shorter.days + extra.days, shorter.time + extra.time)
    # In UTC: two times of one zone compare by their wall clocks, which repeat in October.
    assert calendar.add(start, shorter).astimezone(UTC) <= calendar.add(start, longer).astimezone(
        UTC
    )


# Mostly spans of days, sometimes of years (the cost of a span grows with its days).
spans = st.one_of(
    st.integers(0, 10 * 24 * 60), st.integers(0, 10 * 24 * 60), st.integers(0, 800 * 24 * 60)
).map(lambda minutes: timedelta(minutes=minutes))


@calendars
@PROPERTIES
@given(a=instants, first=spans, second=spans)
def test_working_time_adds_up_and_grows_with_the_span(
    calendar: BusinessCalendar, a: datetime, first: timedelta, second: timedelta
) -> None:
    b = a + first
    c = b + second
    between = calendar.working_time_between
    assert between(a, b) + between(b, c) == between(a, c)
    assert between(a, b) <= between(a, c)  # monotonic in the end
    assert between(b, c) <= between(a, c)  # antitone in the start
    assert between(a, c) <= c - a
    assert between(c, a) == timedelta(0)


@pytest.mark.parametrize("calendar", [OFFICE, POLAND], ids=["office", "poland"])
@PROPERTIES
@given(start=anywhere, half_hours=st.integers(0, 6 * 48))
def test_working_time_is_the_half_hours_in_which_the_office_is_open(
    calendar: BusinessCalendar, start: datetime, half_hours: int
) -> None:
    # An oracle that knows nothing of UTC intervals: both offices open and close on the half hour,
    # so each half hour is worked or not according to its local wall time and date.
    start = start.replace(minute=start.minute // 30 * 30, second=0, microsecond=0)
    slots = (start + timedelta(minutes=30 * n) for n in range(half_hours))
    worked = sum(_open_by_the_wall_clock(calendar, slot) for slot in slots)
    end = start + timedelta(minutes=30 * half_hours)
    assert calendar.working_time_between(start, end) == timedelta(minutes=30 * worked)


def _open_by_the_wall_clock(calendar: BusinessCalendar, moment: datetime) -> bool:
    local = moment.astimezone(calendar.timezone)
    if calendar.is_holiday(local.date()):
        return False
    minute = local.hour * 60 + local.minute
    return any(h.start <= minute < h.end for h in calendar.week[local.weekday()])


@PROPERTIES
@given(duration=durations)
def test_a_duration_reads_back_from_its_text(duration: BusinessDuration) -> None:
    assert BusinessDuration.parse(str(duration)) == duration


# The timeline (binary search over the working intervals of a span of days) against the walk ------


def _walking(calendar: BusinessCalendar) -> BusinessCalendar:
    """A copy of `calendar` that walks day by day, as it does outside its timeline's span."""
    copy = dataclasses.replace(calendar)
    object.__setattr__(copy, "_timeline_over", lambda low, high: None)
    return copy


WALKING = {name: _walking(calendar) for name, calendar in CALENDARS.items()}


@pytest.mark.parametrize("name", CALENDARS)
@PROPERTIES
@given(start=instants, duration=durations, span=spans)
def test_the_timeline_answers_as_the_walk_does(
    name: str, start: datetime, duration: BusinessDuration, span: timedelta
) -> None:
    fresh = dataclasses.replace(CALENDARS[name])  # its timeline grows from this example's days
    walking = WALKING[name]
    assert fresh.add(start, duration) == walking.add(start, duration)
    end = start + span
    assert fresh.working_time_between(start, end) == walking.working_time_between(start, end)
    assert CALENDARS[name].add(start, duration) == walking.add(start, duration)


def test_a_deadline_beyond_the_timeline_grows_it_or_walks() -> None:
    fresh = dataclasses.replace(OFFICE)
    start = hcm(2026, 11, 27, 16)
    year_of_hours = BusinessDuration(time=timedelta(hours=8 * 300))
    assert fresh.add(start, year_of_hours) == _walking(OFFICE).add(start, year_of_hours)
    decades_away = datetime(2070, 1, 5, 8, tzinfo=HCM)
    assert fresh.working_time_between(start, decades_away) == _walking(OFFICE).working_time_between(
        start, decades_away
    )


def test_no_time_at_the_first_instant_of_a_timeline_is_a_closing_of_the_day_before() -> None:
    """An evening shift closes at 24:00: its closing is the next day's first instant, which is
    working time for `add(PT0S)` though that day's own hours begin at 20:00."""
    evenings = BusinessCalendar(WARSAW, (hours("20:00-24:00"),) * 7)
    start = warsaw(2026, 12, 2, 9)
    evenings.add(start, due("PT1H"))  # builds a timeline that starts at some midnight
    timeline = evenings._timeline
    assert timeline is not None
    midnight = datetime.fromtimestamp(timeline.low / 1_000_000, UTC)

    assert evenings.add(midnight, BusinessDuration()) == _walking(evenings).add(
        midnight, BusinessDuration()
    )
    assert evenings.add(midnight, BusinessDuration()).astimezone(UTC) == midnight


def test_instants_near_the_end_of_dates_are_walked() -> None:
    late = datetime(9999, 6, 1, 9, tzinfo=UTC)
    assert OFFICE.working_time_between(late, late + timedelta(days=7)) == _walking(
        OFFICE
    ).working_time_between(late, late + timedelta(days=7))
