"""The case lifecycle: its states, and every action on a case declared once.

    received → triaged → in_progress ⇄ awaiting_citizen → resolved → closed
                                    ↖──── reopen ────────────┘─────────┘ (closed: within a window)
    any open state or resolved ── merge ──→ merged (terminal, points at the surviving case)

Each member of `Action` is the whole declaration of an action: its name (the URL path segment of
`POST /api/v1/cases/{id}/<name>`), its one-line summary, the fields of its body, the roles that may
give it, and what it leads to from each state that allows it (`UNCHANGED` where it changes
attributes only). `TRANSITIONS`, the application's dispatch, the API's routes and body schemas, the
OpenAPI document and the permission table are all derived from these declarations; adding an action
is adding a member here plus its method on `Case`.

Assignment, escalation level and unit are attributes of the case, not states. A (state, action)
pair that no declaration allows is refused. (Over 300 lines because the fourteen declarations are
the point of the module: one place to read every action whole.)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum, StrEnum
from typing import Final

from casemgmt.domain.actors import Role


class Status(StrEnum):
    RECEIVED = "received"
    TRIAGED = "triaged"
    IN_PROGRESS = "in_progress"
    AWAITING_CITIZEN = "awaiting_citizen"
    RESOLVED = "resolved"
    CLOSED = "closed"
    MERGED = "merged"


class Unchanged(Enum):
    """The outcome of an action that leaves the status as it is."""

    STATUS = "unchanged"


UNCHANGED: Final = Unchanged.STATUS

# A case with nobody assigned waits in a work queue for an agent in these states. A received case
# is not routed until triage; one awaiting the citizen waits for the citizen, not for an agent.
WAITING_FOR_AGENT: Final = frozenset({Status.TRIAGED, Status.IN_PROGRESS})


class FieldKind(StrEnum):
    """What a field of an action's body holds (the API turns each into a checked JSON field)."""

    TEXT = "text"  # free text, up to 20,000 characters
    NAME = "name"  # a short name: a unit, an account, a resolution code (up to 200)
    CATEGORY = "category"  # {line, kind}
    PRIORITY = "priority"
    CASE_ID = "case_id"
    SCORE = "score"  # a whole number from 1 to 5


@dataclass(frozen=True)
class BodyField:
    """One field of an action's body; an optional one may be left out or null."""

    name: str
    kind: FieldKind
    required: bool = True
    description: str | None = None


# Who may give an action, before what the case itself says (`casemgmt.application.authorization`
# adds the ownership rule: an agent acts on the cases assigned to them).
SUPERVISORS: Final = frozenset({Role.SUPERVISOR, Role.ADMIN})
WORKERS: Final = SUPERVISORS | {Role.AGENT}
VOICES_OF_THE_REQUESTER: Final = WORKERS | {Role.INTAKE}


@dataclass(frozen=True)
class ActionRule:
    """What one action is: see `Action`."""

    summary: str
    body: tuple[BodyField, ...]
    roles: frozenset[Role]
    leads: Mapping[Status, Status | Unchanged]
    method: str | None = None  # the `Case` method, when not named after the action
    held: bool = True  # an agent must hold (be assigned) the case to give it
    notes: str | None = field(default=None, compare=False)  # more for the API's description


_S = Status
_IN_WORK: Final = (_S.RECEIVED, _S.TRIAGED, _S.IN_PROGRESS, _S.AWAITING_CITIZEN)


def _same_in(*states: Status) -> dict[Status, Status | Unchanged]:
    return dict.fromkeys(states, UNCHANGED)


def _text(name: str, *, required: bool = True, description: str | None = None) -> BodyField:
    return BodyField(name, FieldKind.TEXT, required, description)


def _name(name: str, *, required: bool = True, description: str | None = None) -> BodyField:
    return BodyField(name, FieldKind.NAME, required, description)


class Action(StrEnum):
    """What can be done to a case: each member declares one action (see the module's docstring).

    The value is the name used in URLs and messages: `POST /api/v1/cases/{id}/request-info`.
    """

    rule: ActionRule

    def __new__(cls, name: str, rule: ActionRule) -> Action:
        action = str.__new__(cls, name)
        action._value_ = name
        action.rule = rule
        return action

    TRIAGE = (
        "triage",
        ActionRule(
            summary="Categorise, prioritise and route a case.",
            body=(
                BodyField("category", FieldKind.CATEGORY),
                BodyField("priority", FieldKind.PRIORITY),
                _name("unit", required=False, description="null or left out: keep it"),
            ),
            roles=SUPERVISORS,
            leads={_S.RECEIVED: _S.TRIAGED},
        ),
    )
    ASSIGN = (
        "assign",
        ActionRule(
            summary="Give the case to an agent.",
            body=(
                _name(
                    "agent",
                    required=False,
                    description="The agent's account name; left out: the caller (self-assign)",
                ),
            ),
            roles=WORKERS,
            leads={
                _S.RECEIVED: _S.IN_PROGRESS,
                _S.TRIAGED: _S.IN_PROGRESS,
                **_same_in(_S.IN_PROGRESS, _S.AWAITING_CITIZEN),
            },
            held=False,  # taking a case is how an agent comes to hold it; see `authorization`
            notes="An agent takes an unassigned case or hands on their own; reassigning another "
            "agent's case is a supervisor's call.",
        ),
    )
    UNASSIGN = (
        "unassign",
        ActionRule(
            summary="Take the case from its agent.",
            body=(),
            roles=WORKERS,
            leads={_S.IN_PROGRESS: _S.TRIAGED, _S.AWAITING_CITIZEN: UNCHANGED},
            notes="Work in progress goes back to triaged; giving up another agent's case is "
            "a supervisor's call.",
        ),
    )
    REPLY = (
        "reply",
        ActionRule(
            summary="Answer the requester.",
            body=(_text("message"),),
            roles=WORKERS,
            leads=_same_in(_S.IN_PROGRESS, _S.AWAITING_CITIZEN),
        ),
    )
    NOTE = (
        "note",
        ActionRule(
            summary="Add an internal note.",
            body=(_text("text"),),
            roles=WORKERS,
            leads=_same_in(*_IN_WORK, _S.RESOLVED, _S.CLOSED),
        ),
    )
    REQUEST_INFO = (
        "request-info",
        ActionRule(
            summary="Ask the requester for information.",
            body=(_text("message"),),
            roles=WORKERS,
            leads={_S.IN_PROGRESS: _S.AWAITING_CITIZEN},
        ),
    )
    CITIZEN_MESSAGE = (
        "citizen-message",
        ActionRule(
            summary="Record a message from the requester.",
            body=(_text("message"),),
            roles=VOICES_OF_THE_REQUESTER,
            leads={**_same_in(*_IN_WORK), _S.AWAITING_CITIZEN: _S.IN_PROGRESS},
        ),
    )
    ESCALATE = (
        "escalate",
        ActionRule(
            summary="Raise the escalation level.",
            body=(_text("reason"),),
            roles=WORKERS,
            leads=_same_in(*_IN_WORK),
        ),
    )
    TRANSFER = (
        "transfer",
        ActionRule(
            summary="Hand the case to another unit.",
            body=(_name("unit"), _text("reason")),
            roles=WORKERS,
            leads={**_same_in(*_IN_WORK), _S.IN_PROGRESS: _S.TRIAGED},
        ),
    )
    RESOLVE = (
        "resolve",
        ActionRule(
            summary="Record how the case was resolved.",
            body=(_text("resolution"), _text("summary", required=False)),
            roles=WORKERS,
            leads={_S.IN_PROGRESS: _S.RESOLVED, _S.AWAITING_CITIZEN: _S.RESOLVED},
        ),
    )
    REOPEN = (
        "reopen",
        ActionRule(
            summary="Take a resolved or closed case back.",
            body=(_text("reason"),),
            roles=WORKERS,
            leads={_S.RESOLVED: _S.IN_PROGRESS, _S.CLOSED: _S.IN_PROGRESS},
        ),
    )
    CLOSE = (
        "close",
        ActionRule(
            summary="Close a resolved case.",
            body=(),
            roles=WORKERS,
            leads={_S.RESOLVED: _S.CLOSED},
        ),
    )
    MERGE = (
        "merge",
        ActionRule(
            summary="Merge the case into another one.",
            body=(
                BodyField("into", FieldKind.CASE_ID, description="The id of the surviving case"),
            ),
            roles=WORKERS,
            leads=dict.fromkeys((*_IN_WORK, _S.RESOLVED), _S.MERGED),
        ),
    )
    FEEDBACK = (
        "feedback",
        ActionRule(
            summary="Record the requester's rating.",
            body=(
                BodyField("score", FieldKind.SCORE, description="1 (poor) to 5 (excellent)"),
                _text("comment", required=False),
            ),
            roles=VOICES_OF_THE_REQUESTER,
            leads=_same_in(_S.RESOLVED, _S.CLOSED),
            method="record_feedback",
        ),
    )

    @property
    def path(self) -> str:
        """The form used in URLs: `POST /cases/{id}/request-info`."""
        return self.value

    @property
    def method(self) -> str:
        """The name of the `Case` method that gives the action."""
        return self.rule.method or self.value.replace("-", "_")

    @classmethod
    def from_path(cls, segment: str) -> Action:
        """The action named by a URL path segment (`request-info`); ValueError for anything else."""
        for action in cls:
            if action.value == segment:
                return action
        msg = f"{segment!r} is not an action on a case"
        raise ValueError(msg)


TRANSITIONS: Final[dict[tuple[Status, Action], Status | Unchanged]] = {
    (status, action): outcome for action in Action for status, outcome in action.rule.leads.items()
}


def allowed_actions(status: Status) -> list[Action]:
    """The actions the table allows in a status, in alphabetical order."""
    return sorted(action for (state, action) in TRANSITIONS if state == status)


def next_status(status: Status, action: Action) -> Status:
    """The status an allowed action leads to (KeyError for a pair not in the table)."""
    outcome = TRANSITIONS[(status, action)]
    return status if outcome is UNCHANGED else outcome


class ActionNotAllowed(Exception):  # noqa: N818 -- the name is part of the contract
    """An action the lifecycle refuses in the case's current state (the API answers 409)."""

    def __init__(
        self,
        action: Action,
        reference: str,
        status: Status,
        allowed: Sequence[Action],
        reason: str | None = None,
    ) -> None:
        self.action = action
        self.reference = reference
        self.status = status
        self.allowed = sorted(allowed)
        self.reason = reason
        why = reason or f"is {status.value}"
        listed = ", ".join(a.path for a in self.allowed) or "none"
        super().__init__(f"cannot {action.path}: case {reference} {why}; allowed actions: {listed}")
