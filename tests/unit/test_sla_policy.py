"""The SLA policy: the targets a case gets, its calendar, and the errors a bad policy file gives."""

from __future__ import annotations

import tomllib
from datetime import date, datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import pytest

from casemgmt.domain.calendar import BusinessDuration
from casemgmt.domain.sla_policy import PolicyError, SlaPolicy, Target
from casemgmt.policy_file import PolicyFileError, load_policy, public_holidays

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

POLICY = """\
version = "test-2026.1"
warning_at = 0.8

[calendars.office]
timezone = "Asia/Ho_Chi_Minh"
holidays = "VN"
closed = ["2026-12-31", 2027-01-04]
open = [{ date = "2027-02-20", hours = ["07:30-11:30"] }]

[calendars.office.hours]
mon = ["07:30-11:30", "13:00-16:30"]
fri = ["07:30-11:30", "13:00-16:30"]

[calendars.around_the_clock]
always_open = true

[units]
default = "office"
hcm = "office"

[[targets]]
priority = "urgent"
first_response = "PT2H"
resolution = "P1D"
calendar = "around_the_clock"

[[targets]]
kind = ["complaint", "suggestion"]
first_response = "PT8H"
resolution = "P10D"

[[targets]]
first_response = "PT8H"
resolution = "P5D"

[queues]
default = "general"
"""


def known_countries(country: str) -> Callable[[date], bool]:
    if country not in {"VN", "PL"}:
        raise LookupError(country)
    return frozenset({date(2026, 9, 2)}).__contains__


def parse(text: str) -> SlaPolicy:
    return SlaPolicy.from_mapping(tomllib.loads(text), public_holidays=known_countries)


def with_change(old: str, new: str) -> str:
    assert old in POLICY, old
    return POLICY.replace(old, new, 1)


def test_the_built_in_policy_is_a_vietnamese_provincial_office() -> None:
    policy = load_policy(None)

    assert (policy.version, policy.warning_at) == ("vn-default-2026.1", 0.75)
    urgent = policy.target_for("phone", "health", "benefit_status", "urgent", "hanoi")
    complaint = policy.target_for("post", "social", "complaint", "normal", "hanoi")
    ordinary = policy.target_for("email", None, None, "normal", None)
    assert (str(urgent.first_response), str(urgent.resolution)) == ("PT2H", "P1D")
    assert (str(complaint.first_response), str(complaint.resolution)) == ("PT8H", "P10D")
    assert (str(ordinary.first_response), str(ordinary.resolution)) == ("PT8H", "P5D")
    name, office = policy.calendar_for(ordinary, "hanoi")
    assert name == "office"
    assert office.timezone == ZoneInfo("Asia/Ho_Chi_Minh")
    assert office.is_holiday(date(2026, 2, 17))  # Tết, from the holidays package


def test_the_built_in_policy_counts_in_office_hours() -> None:
    policy = load_policy(None)
    _, office = policy.calendar_for(policy.targets[-1], None)
    received = datetime(2026, 11, 27, 16, 0, tzinfo=ZoneInfo("Asia/Ho_Chi_Minh"))

    first_response = office.add(received, BusinessDuration.parse("PT8H"))

    assert first_response.isoformat() == "2026-11-30T16:30:00+07:00"  # the closing, not Tuesday


def test_the_first_matching_target_applies() -> None:
    policy = parse(POLICY)
    urgent, complaints, everything = policy.targets

    assert policy.target_for("email", "social", "complaint", "urgent", "hcm") is urgent
    assert policy.target_for("email", "social", "complaint", "normal", "hcm") is complaints
    assert policy.target_for("post", None, "suggestion", "low", None) is complaints
    assert policy.target_for("post", None, None, "high", None) is everything


def test_a_target_without_conditions_matches_every_case() -> None:
    assert Target().matches("phone", None, None, "low", None)
    assert not Target(unit=frozenset({"hcm"})).matches("phone", None, None, "low", None)


def test_a_targets_calendar_wins_over_the_units_and_unknown_units_get_the_default() -> None:
    policy = parse(POLICY)
    urgent, _, everything = policy.targets

    assert policy.calendar_for(urgent, "hcm")[0] == "around_the_clock"
    assert policy.calendar_for(everything, "hcm")[0] == "office"
    assert policy.calendar_for(everything, "somewhere_else")[0] == "office"
    assert policy.calendar_for(everything, None)[1].always_open is False


def test_closed_and_open_days_reach_the_calendar() -> None:
    office = parse(POLICY).calendars["office"]

    assert office.closed_days == {date(2026, 12, 31), date(2027, 1, 4)}
    assert [str(h) for h in office.open_days[date(2027, 2, 20)]] == ["07:30-11:30"]
    assert office.is_holiday(date(2026, 9, 2))


def test_a_design_example_with_its_hours_as_a_table_loads(tmp_path: Path) -> None:
    path = tmp_path / "sla.toml"
    path.write_text(POLICY, encoding="utf-8")

    assert load_policy(path).version == "test-2026.1"


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (
            with_change('first_response = "PT8H"\nresolution = "P10D"', 'first_response = "PT2X"'),
            "targets[2].first_response: 'PT2X' is not an ISO-8601 duration",
        ),
        (
            with_change('resolution = "P5D"', 'resolution = "P1M"'),
            "targets[3].resolution: 'P1M' counts years or months, which are no fixed amount of "
            "working time; use working days (P20D) or weeks (P4W)",
        ),
        (
            with_change(
                'mon = ["07:30-11:30", "13:00-16:30"]', 'mon = ["07:30-11:30", "13:00-12:00"]'
            ),
            "calendars.office.hours.mon[2]: '13:00-12:00' ends before it starts",
        ),
        (
            with_change(
                'fri = ["07:30-11:30", "13:00-16:30"]', 'fri = ["07:30-11:30", "11:00-12:00"]'
            ),
            "calendars.office.hours.fri[2]: '11:00-12:00' overlaps '07:30-11:30'",
        ),
        (
            with_change("mon = [", "monday = ["),
            "calendars.office.hours.monday: unknown key; expected one of: "
            "mon, tue, wed, thu, fri, sat, sun",
        ),
        (
            with_change("warning_at = 0.8", "warning_at = 1.5"),
            "warning_at: 1.5 must be more than 0 and less than 1",
        ),
        (
            with_change("warning_at = 0.8", 'warning_at = 0.8\ncolour = "red"'),
            "colour: unknown key; expected one of: "
            "version, warning_at, auto_close_after, calendars, units, targets, queues, taxonomy",
        ),
        (
            with_change('calendar = "around_the_clock"', 'calendar = "night"'),
            "targets[1].calendar: 'night' is not a calendar of this policy "
            "(around_the_clock, office)",
        ),
        (
            with_change('hcm = "office"', 'hcm = "south"'),
            "units.hcm: 'south' is not a calendar of this policy (around_the_clock, office)",
        ),
        (
            with_change('"2026-12-31"', '"2026-02-30"'),
            "calendars.office.closed[1]: '2026-02-30' is not a date (YYYY-MM-DD)",
        ),
        (
            with_change('date = "2027-02-20"', 'date = "2026-12-31"'),
            "calendars.office.open[1].date: 2026-12-31 is also listed as closed or open",
        ),
        (
            with_change('kind = ["complaint", "suggestion"]', 'channel = "fax"'),
            "targets[2].channel: 'fax' is not one of: "
            "email, in_person, national_portal, phone, post, social_media, web_portal",
        ),
        (
            with_change('priority = "urgent"', 'priority = "critical"'),
            "targets[1].priority: 'critical' is not one of: high, low, normal, urgent",
        ),
        (
            with_change('kind = ["complaint", "suggestion"]', 'kind = ["complaint", "praise"]'),
            "targets[2].kind: 'praise' is not one of: benefit_status, complaint, contribution, "
            "policy_question, procedure, suggestion",
        ),
        (
            with_change('kind = ["complaint", "suggestion"]', 'category = "complaint"'),
            "targets[2].category: unknown key; expected one of: "
            "channel, line, kind, priority, unit, first_response, resolution, calendar",
        ),
        (
            with_change('first_response = "PT8H"\nresolution = "P5D"', 'line = "health"'),
            "targets: the last target must have no conditions, so that every case has one",
        ),
        (
            with_change('priority = "urgent"\n', ""),
            "targets[2]: unreachable: targets[1] matches every case",
        ),
        (
            with_change('timezone = "Asia/Ho_Chi_Minh"', 'timezone = "Mars/Olympus_Mons"'),
            "calendars.office.timezone: 'Mars/Olympus_Mons' is not an IANA time zone",
        ),
        (
            with_change("always_open = true", 'always_open = true\nholidays = "PL"'),
            "calendars.around_the_clock: an always-open calendar has no hours, holidays or days",
        ),
        (
            with_change('holidays = "VN"', 'holidays = "XX"'),
            "calendars.office.holidays: 'XX' is not a known country code",
        ),
        (
            with_change('version = "test-2026.1"', ""),
            "version: must name this policy's version, e.g. 'vn-2026.1'",
        ),
    ],
)
def test_errors_name_the_key_and_what_is_wrong(document: str, message: str) -> None:
    with pytest.raises(PolicyError) as raised:
        parse(document)
    assert str(raised.value) == message


def test_a_file_error_is_one_line_naming_the_file_and_the_key(tmp_path: Path) -> None:
    path = tmp_path / "sla.toml"
    path.write_text(with_change('resolution = "P10D"', 'resolution = "PT2X"'), encoding="utf-8")

    with pytest.raises(PolicyFileError) as raised:
        load_policy(path)

    assert str(raised.value) == (
        f"CASEMGMT_SLA_POLICY={path}: targets[2].resolution: 'PT2X' is not an ISO-8601 duration"
    )


def test_an_unknown_holiday_country_is_refused_naming_the_key(tmp_path: Path) -> None:
    path = tmp_path / "sla.toml"
    path.write_text(with_change('holidays = "VN"', 'holidays = "XX"'), encoding="utf-8")

    with pytest.raises(PolicyFileError) as raised:
        load_policy(path, setting="--policy")

    assert str(raised.value) == (
        f"--policy={path}: calendars.office.holidays: 'XX' is not a known country code"
    )


def test_invalid_toml_is_reported_on_one_line_with_its_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "sla.toml"
    path.write_text('version = "x"\nwarning_at = \n', encoding="utf-8")

    with pytest.raises(PolicyFileError) as raised:
        load_policy(path)

    message = str(raised.value)
    assert message.startswith(f"CASEMGMT_SLA_POLICY={path}: not valid TOML: ")
    assert "(at line 2, column 14)" in message
    assert "\n" not in message


def test_a_missing_file_is_reported_by_name(tmp_path: Path) -> None:
    path = tmp_path / "missing.toml"

    with pytest.raises(PolicyFileError) as raised:
        load_policy(path)

    assert (
        str(raised.value)
        == f"CASEMGMT_SLA_POLICY={path}: cannot be read (No such file or directory)"
    )


def test_public_holidays_are_known_in_any_year() -> None:
    is_holiday = public_holidays("VN")

    assert is_holiday(date(2031, 9, 2))  # National Day, in a year nobody asked for before
    assert not is_holiday(date(2031, 9, 10))
    with pytest.raises(LookupError):
        public_holidays("XX")
