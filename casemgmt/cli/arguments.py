"""Reading the command line's values: moments given for a range (`--from`, `--to`)."""

from __future__ import annotations

from datetime import UTC, datetime

from casemgmt.domain import InvalidCommand


def range_moment(option: str, raw: str) -> datetime:
    """An ISO-8601 date or moment; one without a time zone is taken as UTC."""
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise InvalidCommand(option, f"{raw!r} is not an ISO-8601 date or moment") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
