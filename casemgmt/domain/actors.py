"""Who acts on a case, and the context every command carries: who, when, how and why (rule 3)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Final

from casemgmt.domain.validation import optional_text, require_aware, require_member, require_text

if TYPE_CHECKING:
    from datetime import datetime


class Role(StrEnum):
    """What a person or integration may do (docs/api.md, "Who may do what")."""

    INTAKE = "intake"
    AGENT = "agent"
    SUPERVISOR = "supervisor"
    AUDITOR = "auditor"
    ADMIN = "admin"
    SYSTEM = "system"


# The roles an account may have; `system` is the care centre's own rules and timers.
ACCOUNT_ROLES: Final = (Role.INTAKE, Role.AGENT, Role.SUPERVISOR, Role.AUDITOR, Role.ADMIN)


@dataclass(frozen=True)
class Actor:
    """A person or integration, possibly acting on someone else's behalf (a citizen, an agent)."""

    id: str
    role: Role
    on_behalf_of: str | None = None

    def __post_init__(self) -> None:
        require_text("actor.id", self.id)
        object.__setattr__(self, "role", require_member(Role, "actor.role", self.role))
        optional_text("actor.on_behalf_of", self.on_behalf_of)

    def as_dict(self) -> dict[str, Any]:
        """The JSON-native form events carry."""
        return {"id": self.id, "role": self.role.value, "on_behalf_of": self.on_behalf_of}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Actor:
        return cls(id=data["id"], role=Role(data["role"]), on_behalf_of=data.get("on_behalf_of"))


@dataclass(frozen=True)
class Context:
    """Who gives a command, at what moment, in which request and for what cause.

    `cause` says how the command came about: "api", "channel:email", "rule:routing", "timer:sla".
    `at` is read from the clock by the caller; it becomes the timestamp of every event recorded.
    """

    actor: Actor
    at: datetime
    correlation_id: str
    cause: str

    def __post_init__(self) -> None:
        require_aware("at", self.at)
        require_text("correlation_id", self.correlation_id)
        require_text("cause", self.cause)
