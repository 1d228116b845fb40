"""The port through which the application learns about the accounts that a command names.

`assign` names the account that is to hold a case; the application asks the directory whether that
account exists, is enabled and has a role that may hold cases, before the case records it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from casemgmt.domain import Role


# The longest lifetime a token may be given (ten years): a longer one is a typing mistake.
MAX_LIFETIME: Final = timedelta(days=3653)


class AccountError(ValueError):
    """An account cannot be created or changed as asked; the message says why."""


class AccountExists(AccountError):  # noqa: N818 -- names read as what happened
    """An account of that name exists already (the API answers 409)."""


class AccountNotFound(AccountError, LookupError):  # noqa: N818
    """No account has that name (the API answers 404)."""


class Change(StrEnum):
    """What happened to an account (each change is recorded, for auditors)."""

    CREATED = "created"
    DISABLED = "disabled"
    ENABLED = "enabled"
    ROTATED = "rotated"


@dataclass(frozen=True)
class AccountStanding:
    """What the application needs to know of an account: its role, and whether it may sign in."""

    name: str
    role: Role
    enabled: bool


class TokenRefused(Exception):  # noqa: N818 -- names read as what happened
    """A bearer token that authenticates nobody; the message says why (unknown, disabled,
    expired), which tells its holder nothing they could not try (the API answers 401)."""


class AccountDirectory(ABC):
    """The accounts of the API, as the application sees them (`casemgmt.persistence.accounts`)."""

    @abstractmethod
    def standing(self, name: str) -> AccountStanding | None:
        """The account named `name`, or None when no account has that name."""
