"""How a report writes its figures and names: percentages, working hours, counts, periods, and the
taxonomy's codes as words. A figure that is not known is written "—", never as zero."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Final

UNKNOWN: Final = "—"
HOUR: Final = 3600.0
# Month names as written in the report, whatever the locale of the process that renders it.
MONTHS: Final = (
    *("January", "February", "March", "April", "May", "June", "July", "August"),
    *("September", "October", "November", "December"),
)


def number(value: Any) -> int:
    """A count of the report, where a missing one counts nothing."""
    return int(value or 0)


def share(part: float, whole: float) -> float | None:
    """`part` of `whole`, unknown when there is no whole."""
    return part / whole if whole else None


def percent(rate: float | None) -> str:
    """A rate (0 to 1) as a percentage with one decimal: `2.4%`; a rare non-zero one as `<0.1%`."""
    if rate is None:
        return UNKNOWN
    if 0 < rate < 0.0005:
        return "<0.1%"
    return f"{rate:.1%}"


def hours(value: float) -> str:
    """Working hours: one decimal below ten, whole hours above."""
    if 0 < value < 0.05:
        return "<0.1 h"
    return f"{value:.1f} h" if value < 10 else f"{value:,.0f} h"


def cases(count: int) -> str:
    """`1 case`, `1,234 cases`."""
    return "1 case" if count == 1 else f"{count:,} cases"


def questions(count: int) -> str:
    """`1 question`, `1,234 questions`."""
    return "1 question" if count == 1 else f"{count:,} questions"


def session_kind(kind: object) -> str:
    """A kind of active-care session, in the plural: `conferences`, `Q&A sessions`."""
    return {"conference": "conferences", "qa": "Q&A sessions"}.get(str(kind), str(kind))


def line(name: object) -> str:
    """An insurance line as words (`health`: `health insurance`)."""
    return "no line given" if name is None else f"{name} insurance"


def category(kind: object) -> str:
    """An inquiry kind as words (`benefit_status`: `benefit status`)."""
    return "no category" if kind is None else str(kind).replace("_", " ")


def unit(name: object) -> str:
    return "no unit" if name is None else str(name)


def status(name: str) -> str:
    return name.replace("_", " ")


def period(start: object, end: object) -> str:
    """The cases' period as a reader says it: `from 1 September 2026 to 30 November 2026
    (UTC+07:00)` when it runs from midnight to midnight, to the minute otherwise."""
    first, after = _moment(start), _moment(end)
    if first is None or after is None:
        return f"from {start} to {end}"
    zone = _zone(first)
    if _midnight(first) and _midnight(after):
        last = after - timedelta(days=1)
        if last.date() <= first.date():
            return f"on {_day(first)} ({zone})"
        return f"from {_day(first)} to {_day(last)} ({zone})"
    return f"from {first:%Y-%m-%d %H:%M} to {after:%Y-%m-%d %H:%M} ({zone}, end excluded)"


def _moment(value: object) -> datetime | None:
    """The report's moments are ISO-8601 strings in JSON, datetimes straight from the query."""
    if isinstance(value, datetime):
        return value
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        return None


def _midnight(moment: datetime) -> bool:
    return (moment.hour, moment.minute, moment.second, moment.microsecond) == (0, 0, 0, 0)


def _day(moment: datetime) -> str:
    return f"{moment.day} {MONTHS[moment.month - 1]} {moment.year}"


def _zone(moment: datetime) -> str:
    offset = moment.utcoffset()
    if not offset:
        return "UTC"
    minutes = int(offset.total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    return f"UTC{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"
