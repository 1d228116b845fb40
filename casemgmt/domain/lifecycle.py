"""The case lifecycle: its states, the actions on a case, and the one table of what each leads to.

    received → triaged → in_progress ⇄ awaiting_citizen → resolved → closed
                                    ↖──── reopen ────────────┘─────────┘ (closed: within a window)
    any open state or resolved ── merge ──→ merged (terminal, points at the surviving case)

Assignment, escalation level and unit are attributes of the case, not states: `TRANSITIONS` says
for each state which actions are allowed and what status each leads to, `UNCHANGED` where the action
changes attributes only. A pair missing from the table is refused.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import Enum, StrEnum
from typing import Final


class Status(StrEnum):
    RECEIVED = "received"
    TRIAGED = "triaged"
    IN_PROGRESS = "in_progress"
    AWAITING_CITIZEN = "awaiting_citizen"
    RESOLVED = "resolved"
    CLOSED = "closed"
    MERGED = "merged"


class Action(StrEnum):
    """What can be done to a case; the HTTP path segment is `path` (`request-info`)."""

    TRIAGE = "triage"
    ASSIGN = "assign"
    UNASSIGN = "unassign"
    REPLY = "reply"
    NOTE = "note"
    REQUEST_INFO = "request_info"
    CITIZEN_MESSAGE = "citizen_message"
    ESCALATE = "escalate"
    TRANSFER = "transfer"
    RESOLVE = "resolve"
    REOPEN = "reopen"
    CLOSE = "close"
    MERGE = "merge"
    FEEDBACK = "feedback"

    @property
    def path(self) -> str:
        """The form used in URLs: `POST /cases/{id}/request-info`."""
        return self.value.replace("_", "-")

    @classmethod
    def from_path(cls, segment: str) -> Action:
        """The action named by a URL path segment (`request-info`); ValueError for anything else."""
        for action in cls:
            if action.path == segment:
                return action
        msg = f"{segment!r} is not an action on a case"
        raise ValueError(msg)


class Unchanged(Enum):
    """The outcome of an action that leaves the status as it is."""

    STATUS = "unchanged"


UNCHANGED: Final = Unchanged.STATUS

OPEN_STATES: Final = (
    Status.RECEIVED,
    Status.TRIAGED,
    Status.IN_PROGRESS,
    Status.AWAITING_CITIZEN,
)

_S, _A = Status, Action

TRANSITIONS: Final[dict[tuple[Status, Action], Status | Unchanged]] = {
    # received: waiting to be looked at
    (_S.RECEIVED, _A.TRIAGE): _S.TRIAGED,
    (_S.RECEIVED, _A.ASSIGN): _S.IN_PROGRESS,
    (_S.RECEIVED, _A.NOTE): UNCHANGED,
    (_S.RECEIVED, _A.CITIZEN_MESSAGE): UNCHANGED,
    (_S.RECEIVED, _A.ESCALATE): UNCHANGED,
    (_S.RECEIVED, _A.TRANSFER): UNCHANGED,
    (_S.RECEIVED, _A.MERGE): _S.MERGED,
    # triaged: categorised and waiting in a queue for an agent
    (_S.TRIAGED, _A.ASSIGN): _S.IN_PROGRESS,
    (_S.TRIAGED, _A.NOTE): UNCHANGED,
    (_S.TRIAGED, _A.CITIZEN_MESSAGE): UNCHANGED,
    (_S.TRIAGED, _A.ESCALATE): UNCHANGED,
    (_S.TRIAGED, _A.TRANSFER): UNCHANGED,
    (_S.TRIAGED, _A.MERGE): _S.MERGED,
    # in_progress: an agent works on it
    (_S.IN_PROGRESS, _A.ASSIGN): UNCHANGED,
    (_S.IN_PROGRESS, _A.UNASSIGN): _S.TRIAGED,
    (_S.IN_PROGRESS, _A.REPLY): UNCHANGED,
    (_S.IN_PROGRESS, _A.NOTE): UNCHANGED,
    (_S.IN_PROGRESS, _A.REQUEST_INFO): _S.AWAITING_CITIZEN,
    (_S.IN_PROGRESS, _A.CITIZEN_MESSAGE): UNCHANGED,
    (_S.IN_PROGRESS, _A.ESCALATE): UNCHANGED,
    (_S.IN_PROGRESS, _A.TRANSFER): _S.TRIAGED,
    (_S.IN_PROGRESS, _A.RESOLVE): _S.RESOLVED,
    (_S.IN_PROGRESS, _A.MERGE): _S.MERGED,
    # awaiting_citizen: the clocks pause until the citizen answers
    (_S.AWAITING_CITIZEN, _A.ASSIGN): UNCHANGED,
    (_S.AWAITING_CITIZEN, _A.UNASSIGN): UNCHANGED,
    (_S.AWAITING_CITIZEN, _A.REPLY): UNCHANGED,
    (_S.AWAITING_CITIZEN, _A.NOTE): UNCHANGED,
    (_S.AWAITING_CITIZEN, _A.CITIZEN_MESSAGE): _S.IN_PROGRESS,
    (_S.AWAITING_CITIZEN, _A.ESCALATE): UNCHANGED,
    (_S.AWAITING_CITIZEN, _A.TRANSFER): UNCHANGED,
    (_S.AWAITING_CITIZEN, _A.RESOLVE): _S.RESOLVED,
    (_S.AWAITING_CITIZEN, _A.MERGE): _S.MERGED,
    # resolved: answered; the citizen may rate it, or it may be reopened
    (_S.RESOLVED, _A.NOTE): UNCHANGED,
    (_S.RESOLVED, _A.REOPEN): _S.IN_PROGRESS,
    (_S.RESOLVED, _A.CLOSE): _S.CLOSED,
    (_S.RESOLVED, _A.MERGE): _S.MERGED,
    (_S.RESOLVED, _A.FEEDBACK): UNCHANGED,
    # closed: reopened only within the policy's window
    (_S.CLOSED, _A.NOTE): UNCHANGED,
    (_S.CLOSED, _A.REOPEN): _S.IN_PROGRESS,
    (_S.CLOSED, _A.FEEDBACK): UNCHANGED,
    # merged: terminal, nothing is allowed
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
