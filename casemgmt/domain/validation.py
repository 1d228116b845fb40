"""Checks on the values a command carries, and the error that names the field at fault."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from enum import StrEnum

E = TypeVar("E", bound="StrEnum")


class InvalidCommand(ValueError):  # noqa: N818 -- the name is part of the contract
    """A command carries a value that can never be accepted (the API answers 422 naming it)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def require_text(field: str, value: str) -> str:
    """The value, when it is a string with something in it besides white space."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidCommand(field, "must not be empty")
    return value


def optional_text(field: str, value: str | None) -> str | None:
    """The value, when absent or not blank: a blank one is refused rather than dropped."""
    return None if value is None else require_text(field, value)


def require_aware(field: str, value: datetime) -> datetime:
    """The value, when it is a datetime that knows its offset from UTC."""
    if not isinstance(value, datetime) or value.utcoffset() is None:
        raise InvalidCommand(field, "must be a date and time with a time zone")
    return value


def require_member(enum: type[E], field: str, value: str) -> E:
    """The enum member for a value (a member or its string), naming the accepted ones otherwise."""
    try:
        return enum(value)
    except ValueError:
        accepted = ", ".join(member.value for member in enum)
        raise InvalidCommand(field, f"{value!r} is not one of: {accepted}") from None
