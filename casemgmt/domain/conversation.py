"""What is said on a case: messages exchanged with the requester, internal notes, and feedback."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any


class Direction(StrEnum):
    IN = "in"  # from the requester
    OUT = "out"  # to the requester


@dataclass(frozen=True)
class Message:
    """A message exchanged with the requester; `author` is whom the words are from."""

    direction: Direction
    author: str
    text: str
    at: datetime

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Message:
        return cls(**{**data, "direction": Direction(data["direction"])})


@dataclass(frozen=True)
class Note:
    """An internal note, never shown to the requester."""

    author: str
    text: str
    at: datetime

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Note:
        return cls(**data)


@dataclass(frozen=True)
class Feedback:
    """The requester's rating of how the case was handled, 1 (poor) to 5 (excellent)."""

    score: int
    comment: str | None
    at: datetime

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Feedback | None:
        return None if data is None else cls(**data)
