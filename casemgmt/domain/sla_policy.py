"""The SLA policy: which targets apply to a case, and in which business calendar they are counted.

Built from the parsed TOML document of `CASEMGMT_SLA_POLICY` (the format: docs/sla.md).
Every value is checked; a `PolicyError` names the key at fault, lists counted from 1 as in
`queues.rules[1]` ("targets[2]" is the second `[[targets]]`). The last target must have no
conditions, so every case has one: a policy cannot leave a case without clocks by accident, and a
target after the catch-all, which nothing could reach, is refused. `warning_at` is 0.75 when left
out; a calendar's `closed` and `open` dates may be TOML dates or "YYYY-MM-DD" strings; a calendar
with `always_open = true` takes only a `timezone`. A `[queues]` section may sit in the same file:
routing reads it (`casemgmt.domain.routing`), this module passes over it. (Over 300 lines: about
45 of them are the built-in policy's text, and the checks of each key belong with the values.)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Final
from zoneinfo import ZoneInfo

from casemgmt.domain.calendar import (
    WEEKDAYS,
    BusinessCalendar,
    BusinessDuration,
    CalendarError,
    Hours,
    WorkingInterval,
)
from casemgmt.domain.requests import Channel, InquiryKind, InsuranceLine, Priority

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    PublicHolidays = Callable[[str], Callable[[date], bool]]


class PolicyError(ValueError):
    """A policy document that cannot be used: `key_path` says where, `message` what is wrong."""

    def __init__(self, key_path: str, message: str) -> None:
        super().__init__(f"{key_path}: {message}")
        self.key_path = key_path
        self.message = message


# The values each condition may take; None: any name (units are configured, not enumerated).
CONDITIONS: Final[dict[str, frozenset[str] | None]] = {
    "channel": frozenset(member.value for member in Channel),
    "line": frozenset(member.value for member in InsuranceLine),
    "kind": frozenset(member.value for member in InquiryKind),
    "priority": frozenset(member.value for member in Priority),
    "unit": None,
}
_DOCUMENT_KEYS: Final = (
    "version",
    "warning_at",
    "auto_close_after",
    "calendars",
    "units",
    "targets",
    "queues",
    "taxonomy",  # the kinds and units the centre files under (casemgmt.domain.taxonomy)
)
_CALENDAR_KEYS: Final = ("timezone", "holidays", "hours", "closed", "open", "always_open")
_TARGET_KEYS: Final = (*CONDITIONS, "first_response", "resolution", "calendar")
_CHOSEN_KEPT: Final = 100_000


@dataclass(frozen=True)
class Target:
    """The clocks' targets for the cases that match every given condition (None: any value)."""

    channel: frozenset[str] | None = None
    line: frozenset[str] | None = None
    kind: frozenset[str] | None = None
    priority: frozenset[str] | None = None
    unit: frozenset[str] | None = None
    first_response: BusinessDuration | None = None
    resolution: BusinessDuration | None = None
    calendar: str | None = None

    @property
    def is_catch_all(self) -> bool:
        return all(getattr(self, name) is None for name in CONDITIONS)

    def matches(
        self, channel: str, line: str | None, kind: str | None, priority: str, unit: str | None
    ) -> bool:
        case = (channel, line, kind, priority, unit)
        wanted = (self.channel, self.line, self.kind, self.priority, self.unit)
        return all(
            allowed is None or value in allowed for allowed, value in zip(wanted, case, strict=True)
        )


@dataclass(frozen=True)
class SlaPolicy:
    """Targets tried in order, the calendars they count in, and each unit's calendar."""

    version: str
    warning_at: float
    calendars: Mapping[str, BusinessCalendar]
    unit_calendars: Mapping[str, str]
    default_calendar: str
    targets: tuple[Target, ...]
    # How long after its resolution a case the requester says nothing more about closes by
    # itself, in its unit's calendar (None: resolved cases stay resolved until someone closes them).
    auto_close_after: BusinessDuration | None = None
    # The target chosen for each combination of conditions met (few: `sla apply` asks a million
    # times).
    _chosen: dict[tuple[str | None, ...], Target] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        if not 0 < self.warning_at < 1:
            raise PolicyError(
                "warning_at", f"{self.warning_at!r} must be more than 0 and less than 1"
            )
        self._check_calendar("units.default", self.default_calendar)
        for unit, name in self.unit_calendars.items():
            self._check_calendar(f"units.{unit}", name)
        for number, target in enumerate(self.targets, 1):
            if target.calendar is not None:
                self._check_calendar(f"targets[{number}].calendar", target.calendar)
            if target.is_catch_all and number < len(self.targets):
                raise PolicyError(
                    f"targets[{number + 1}]", f"unreachable: targets[{number}] matches every case"
                )
        if not self.targets or not self.targets[-1].is_catch_all:
            raise PolicyError(
                "targets", "the last target must have no conditions, so that every case has one"
            )

    def target_for(
        self, channel: str, line: str | None, kind: str | None, priority: str, unit: str | None
    ) -> Target:
        """The first target whose conditions the case meets (the last one meets every case)."""
        key = (channel, line, kind, priority, unit)
        chosen = self._chosen.get(key)
        if chosen is None:
            chosen = next(t for t in self.targets if t.matches(*key))
            if len(self._chosen) < _CHOSEN_KEPT:
                self._chosen[key] = chosen
        return chosen

    def calendar_for(self, target: Target, unit: str | None) -> tuple[str, BusinessCalendar]:
        """The calendar the target's clocks count in: its own, else the unit's, else the default."""
        name = target.calendar or (
            self.unit_calendars.get(unit, self.default_calendar) if unit else self.default_calendar
        )
        return name, self.calendars[name]

    def auto_close_at(self, resolved_at: datetime, unit: str | None) -> datetime | None:
        """When a case of `unit` resolved at `resolved_at` closes by itself (None: it does not)."""
        if self.auto_close_after is None:
            return None
        name = self.unit_calendars.get(unit, self.default_calendar) if unit else None
        return self.calendars[name or self.default_calendar].add(resolved_at, self.auto_close_after)

    def _check_calendar(self, key_path: str, name: str) -> None:
        if not isinstance(name, str) or name not in self.calendars:
            known = ", ".join(sorted(self.calendars)) or "none"
            raise PolicyError(key_path, f"{name!r} is not a calendar of this policy ({known})")

    @classmethod
    def from_mapping(
        cls, document: Mapping[str, Any], *, public_holidays: PublicHolidays
    ) -> SlaPolicy:
        """The policy a parsed TOML document describes; `public_holidays(country)` gives the
        predicate of a country's holidays and raises LookupError for a country it does not know."""
        _check_keys(document, "", _DOCUMENT_KEYS)
        version = document.get("version")
        if not isinstance(version, str) or not version.strip():
            raise PolicyError("version", "must name this policy's version, e.g. 'vn-2026.1'")
        warning_at = document.get("warning_at", 0.75)
        if isinstance(warning_at, bool) or not isinstance(warning_at, int | float):
            raise PolicyError("warning_at", f"{warning_at!r} is not a number")
        calendars = _table(document.get("calendars"), "calendars")
        if not calendars:
            raise PolicyError("calendars", "must define at least one calendar")
        units = _table(document.get("units", {}), "units")
        default = units.get("default", next(iter(calendars)) if len(calendars) == 1 else None)
        if default is None:
            raise PolicyError("units.default", "must name the calendar of units not listed")
        targets = document.get("targets", [])
        if not isinstance(targets, list):
            raise PolicyError("targets", "must be a list of tables ([[targets]])")
        auto_close = document.get("auto_close_after")
        return cls(
            version=version,
            warning_at=float(warning_at),
            auto_close_after=None
            if auto_close is None or auto_close is False  # false: never by itself
            else _duration(auto_close, "auto_close_after"),
            calendars={
                name: _calendar(spec, f"calendars.{name}", public_holidays)
                for name, spec in calendars.items()
            },
            unit_calendars={unit: name for unit, name in units.items() if unit != "default"},
            default_calendar=default,
            targets=tuple(
                _target(spec, f"targets[{n}]", _kinds_of(document))
                for n, spec in enumerate(targets, 1)
            ),
        )


def _calendar(spec: Any, where: str, public_holidays: PublicHolidays) -> BusinessCalendar:
    spec = _table(spec, where)
    _check_keys(spec, where, _CALENDAR_KEYS)
    always_open = spec.get("always_open", False)
    if not isinstance(always_open, bool):
        raise PolicyError(f"{where}.always_open", "must be true or false")
    if always_open:
        if set(spec) - {"always_open", "timezone"}:
            raise PolicyError(where, "an always-open calendar has no hours, holidays or days")
        return BusinessCalendar(_timezone(spec.get("timezone", "UTC"), where), always_open=True)
    if "timezone" not in spec:
        raise PolicyError(f"{where}.timezone", "is required, e.g. 'Asia/Ho_Chi_Minh'")
    hours = _table(spec.get("hours", {}), f"{where}.hours")
    _check_keys(hours, f"{where}.hours", WEEKDAYS)
    if not any(hours.values()):
        raise PolicyError(f"{where}.hours", "no working hours on any weekday")
    closed = _list(spec.get("closed", []), f"{where}.closed")
    closed_days = frozenset(_date(day, f"{where}.closed[{n}]") for n, day in enumerate(closed, 1))
    open_days: dict[date, Hours] = {}
    for n, item in enumerate(_list(spec.get("open", []), f"{where}.open"), 1):
        extra = _table(item, f"{where}.open[{n}]")
        _check_keys(extra, f"{where}.open[{n}]", ("date", "hours"))
        day = _date(extra.get("date"), f"{where}.open[{n}].date")
        if day in closed_days or day in open_days:
            raise PolicyError(f"{where}.open[{n}].date", f"{day} is also listed as closed or open")
        open_days[day] = _hours(extra.get("hours"), f"{where}.open[{n}].hours")
        if not open_days[day]:
            raise PolicyError(f"{where}.open[{n}].hours", "an extra working day needs hours")
    return BusinessCalendar(
        timezone=_timezone(spec["timezone"], where),
        week=tuple(
            _hours(hours.get(weekday, []), f"{where}.hours.{weekday}") for weekday in WEEKDAYS
        ),
        public_holidays=_holidays(spec.get("holidays"), where, public_holidays),
        closed_days=closed_days,
        open_days=open_days,
    )


def _hours(value: Any, where: str) -> Hours:
    intervals: list[WorkingInterval] = []
    for n, text in enumerate(_list(value, where), 1):
        try:
            interval = WorkingInterval.parse(text)
        except CalendarError as error:
            raise PolicyError(f"{where}[{n}]", str(error)) from None
        for other in intervals:
            if interval.start < other.end and other.start < interval.end:
                raise PolicyError(f"{where}[{n}]", f"{text!r} overlaps '{other}'")
        intervals.append(interval)
    return tuple(sorted(intervals))


def _holidays(
    country: Any, where: str, public_holidays: PublicHolidays
) -> frozenset[date] | Callable[[date], bool]:
    if country is None:
        return frozenset()
    if not isinstance(country, str):
        raise PolicyError(f"{where}.holidays", "must be a country code such as 'VN'")
    try:
        return public_holidays(country)
    except LookupError:
        raise PolicyError(f"{where}.holidays", f"{country!r} is not a known country code") from None


def _timezone(name: Any, where: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (LookupError, ValueError, TypeError):
        raise PolicyError(f"{where}.timezone", f"{name!r} is not an IANA time zone") from None


def _kinds_of(document: Mapping[str, Any]) -> frozenset[str] | None:
    """The kinds a `[taxonomy]` section names (None: the default ones), for the targets' `kind`."""
    taxonomy = document.get("taxonomy")
    kinds = taxonomy.get("kinds") if isinstance(taxonomy, dict) else None
    return frozenset(kinds) if isinstance(kinds, list) and kinds else None


def _target(spec: Any, where: str, kinds: frozenset[str] | None = None) -> Target:
    spec = _table(spec, where)
    _check_keys(spec, where, _TARGET_KEYS)
    condition = {
        name: _condition(spec.get(name), f"{where}.{name}", name, kinds) for name in CONDITIONS
    }
    duration = {
        clock: None if spec.get(clock) is None else _duration(spec[clock], f"{where}.{clock}")
        for clock in ("first_response", "resolution")
    }
    return Target(
        channel=condition["channel"],
        line=condition["line"],
        kind=condition["kind"],
        priority=condition["priority"],
        unit=condition["unit"],
        first_response=duration["first_response"],
        resolution=duration["resolution"],
        calendar=spec.get("calendar"),
    )


def _condition(
    value: Any, where: str, name: str, kinds: frozenset[str] | None = None
) -> frozenset[str] | None:
    if value is None:
        return None
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, list) or not values or not all(isinstance(v, str) for v in values):
        raise PolicyError(where, "must be a string or a non-empty list of strings")
    accepted = kinds if name == "kind" and kinds is not None else CONDITIONS[name]
    for item in values:
        if accepted is not None and item not in accepted:
            raise PolicyError(where, f"{item!r} is not one of: {', '.join(sorted(accepted))}")
    return frozenset(values)


def _duration(value: Any, where: str) -> BusinessDuration:
    try:
        return BusinessDuration.parse(value)
    except CalendarError as error:
        raise PolicyError(where, str(error)) from None


def _date(value: Any, where: str) -> date:
    if type(value) is date:  # a TOML local date (a datetime is refused below)
        return value
    try:
        return date.fromisoformat(value)
    except (TypeError, ValueError):
        raise PolicyError(where, f"{value!r} is not a date (YYYY-MM-DD)") from None


def _table(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise PolicyError(where, "must be a table")
    return value


def _list(value: Any, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise PolicyError(where, "must be a list")
    return value


def _check_keys(table: Mapping[str, Any], where: str, known: tuple[str, ...]) -> None:
    for key in table:
        if key not in known:
            path = f"{where}.{key}" if where else key
            raise PolicyError(path, f"unknown key; expected one of: {', '.join(known)}")


DEFAULT_POLICY_TOML: Final = """\
# The built-in policy: a Vietnamese provincial office of the social security agency.
version = "vn-default-2026.1"
warning_at = 0.75
auto_close_after = "P5D"    # a resolved case nobody reopens closes five working days later

[calendars.office]
timezone = "Asia/Ho_Chi_Minh"
holidays = "VN"

[calendars.office.hours]    # breaks are the gaps: lunch from 11:30 to 13:00
mon = ["07:30-11:30", "13:00-16:30"]
tue = ["07:30-11:30", "13:00-16:30"]
wed = ["07:30-11:30", "13:00-16:30"]
thu = ["07:30-11:30", "13:00-16:30"]
fri = ["07:30-11:30", "13:00-16:30"]

[units]
default = "office"

[[targets]]                 # a citizen cannot get treatment or a benefit they need now
priority = "urgent"
first_response = "PT2H"
resolution = "P1D"

[[targets]]
priority = "high"
first_response = "PT4H"
resolution = "P3D"

[[targets]]                 # a complaint is investigated before it is answered, as the law allows
kind = "complaint"
first_response = "PT8H"
resolution = "P10D"

[[targets]]                 # "within one working day we reply, within five we settle it"
first_response = "PT8H"
resolution = "P5D"
"""
