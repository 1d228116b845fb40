"""Reading the command line's values: moments given for a range (`--from`, `--to`), time zones."""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from zoneinfo import ZoneInfo

from casemgmt.domain import InvalidCommand


def range_moment(option: str, raw: str, zone: tzinfo = UTC) -> datetime:
    """An ISO-8601 date or moment; one without a time zone is taken in `zone` (UTC by default)."""
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise InvalidCommand(option, f"{raw!r} is not an ISO-8601 date or moment") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=zone)


def time_zone(option: str, raw: str) -> ZoneInfo:
    """An IANA time zone by its name: `Asia/Ho_Chi_Minh`, `UTC`."""
    try:
        return ZoneInfo(raw)
    except (LookupError, ValueError):
        raise InvalidCommand(
            option, f"{raw!r} is not an IANA time zone (e.g. Asia/Ho_Chi_Minh or UTC)"
        ) from None
