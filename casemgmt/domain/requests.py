"""What a case is about: who asks, through which channel, about what, and how urgently."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

from casemgmt.domain.validation import optional_text, require_member, require_text

# What a requester's erased data reads as: their name, the text of the conversation (their
# identifier and contact read as null). Written in place of the data in every stored event and
# snapshot; the data itself is sealed with the requester's own key (persistence/shredding.py).
ERASED: Final = "[erased]"


def erased_value(path: str) -> str | None:
    """What the personal datum at `path` ("requester.name", "message") reads as once erased."""
    return None if path.endswith((".id", ".contact")) else ERASED


class Channel(StrEnum):
    """The seven ways a question reaches the customer care centre."""

    PHONE = "phone"
    NATIONAL_PORTAL = "national_portal"
    WEB_PORTAL = "web_portal"
    SOCIAL_MEDIA = "social_media"
    EMAIL = "email"
    POST = "post"
    IN_PERSON = "in_person"


class Priority(StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"


class InsuranceLine(StrEnum):
    SOCIAL = "social"
    UNEMPLOYMENT = "unemployment"
    HEALTH = "health"


class InquiryKind(StrEnum):
    """The default taxonomy's kinds of inquiry; the policy file may name others
    (`casemgmt.domain.taxonomy`), so a case holds its kind as a plain string."""

    POLICY_QUESTION = "policy_question"
    PROCEDURE = "procedure"
    BENEFIT_STATUS = "benefit_status"
    CONTRIBUTION = "contribution"
    COMPLAINT = "complaint"
    SUGGESTION = "suggestion"


class RequesterKind(StrEnum):
    CITIZEN = "citizen"
    EMPLOYER = "employer"
    ORGANISATION = "organisation"


@dataclass(frozen=True)
class Requester:
    """The citizen, employer or organisation who asks; `id`: their insurance or tax number."""

    kind: RequesterKind
    id: str | None
    name: str
    contact: str | None = None

    def __post_init__(self) -> None:
        kind = require_member(RequesterKind, "requester.kind", self.kind)
        object.__setattr__(self, "kind", kind)
        optional_text("requester.id", self.id)
        require_text("requester.name", self.name)
        optional_text("requester.contact", self.contact)

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind.value, "id": self.id, "name": self.name, "contact": self.contact}

    def erased(self) -> Requester:
        """The requester once erased: only the kind (citizen, employer, organisation) is left."""
        return Requester(self.kind, None, ERASED, None)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Requester:
        return cls(
            kind=RequesterKind(data["kind"]),
            id=data.get("id"),
            name=data["name"],
            contact=data.get("contact"),
        )


@dataclass(frozen=True)
class Category:
    """Which insurance line and what kind of inquiry; either may be unknown until triage.

    The kind is a name of the centre's taxonomy (`casemgmt.domain.taxonomy`, checked by the
    application against the policy in force), kept as a plain string: a kind the taxonomy no
    longer lists still loads from the events that recorded it.
    """

    line: InsuranceLine | None = None
    kind: str | None = None

    def __post_init__(self) -> None:
        if self.line is not None:
            line = require_member(InsuranceLine, "category.line", self.line)
            object.__setattr__(self, "line", line)
        if self.kind is not None:
            kind = require_text("category.kind", self.kind)
            object.__setattr__(self, "kind", str(kind))  # an InquiryKind member as its value

    def as_dict(self) -> dict[str, Any]:
        return {"line": None if self.line is None else self.line.value, "kind": self.kind}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Category:
        line, kind = data.get("line"), data.get("kind")
        return cls(line=None if line is None else InsuranceLine(line), kind=kind)
