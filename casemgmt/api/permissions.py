"""Who may do what through the API: the one table of role → operations.

An operation is an action on a case (its URL form, `request-info`) or one of the few calls that are
not actions: opening a case, reading cases, reassigning a case that another agent holds, reading
the work queues and claiming the next case from one.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Final

from casemgmt.api.errors import Forbidden
from casemgmt.domain import Role

if TYPE_CHECKING:
    from casemgmt.domain import Case


class Operation(StrEnum):
    OPEN = "open"
    READ = "read"
    TRIAGE = "triage"
    ASSIGN = "assign"
    REASSIGN = "reassign"  # assign a case that someone other than the caller holds
    UNASSIGN = "unassign"
    REPLY = "reply"
    NOTE = "note"
    REQUEST_INFO = "request-info"
    CITIZEN_MESSAGE = "citizen-message"
    ESCALATE = "escalate"
    TRANSFER = "transfer"
    RESOLVE = "resolve"
    REOPEN = "reopen"
    CLOSE = "close"
    MERGE = "merge"
    FEEDBACK = "feedback"
    READ_QUEUES = "read-queues"
    CLAIM = "claim"  # take the next case of a queue: assign it to oneself


_O = Operation

AGENT_OPERATIONS: Final = frozenset(
    {
        _O.READ,
        _O.ASSIGN,
        _O.UNASSIGN,
        _O.REPLY,
        _O.NOTE,
        _O.REQUEST_INFO,
        _O.CITIZEN_MESSAGE,
        _O.ESCALATE,
        _O.RESOLVE,
        _O.REOPEN,
        _O.CLOSE,
        _O.MERGE,
        _O.FEEDBACK,
        _O.READ_QUEUES,
        _O.CLAIM,
    }
)

PERMISSIONS: Final[dict[Role, frozenset[Operation]]] = {
    Role.AUDITOR: frozenset({_O.READ, _O.READ_QUEUES}),
    Role.INTAKE: frozenset({_O.READ, _O.OPEN, _O.CITIZEN_MESSAGE, _O.FEEDBACK}),
    Role.AGENT: AGENT_OPERATIONS,
    Role.SUPERVISOR: AGENT_OPERATIONS | {_O.TRIAGE, _O.REASSIGN, _O.TRANSFER},
    Role.ADMIN: frozenset(Operation),
}


def may(role: Role, operation: Operation) -> bool:
    """Whether the table lets `role` perform `operation`."""
    return operation in PERMISSIONS.get(role, frozenset())


def authorize(role: Role, operation: Operation) -> None:
    """Refuses (403) an operation the table does not give the role."""
    if not may(role, operation):
        raise Forbidden(role.value, operation.value)


def assignment_operation(case: Case, caller: str) -> Operation:
    """Assigning a case that another agent holds is reassigning it; otherwise it is assigning."""
    if case.assignee is not None and case.assignee != caller:
        return Operation.REASSIGN
    return Operation.ASSIGN


def unassignment_operation(case: Case, caller: str) -> Operation:
    """Taking a case from another agent is reassigning it; giving up one's own is unassigning."""
    if case.assignee is not None and case.assignee != caller:
        return Operation.REASSIGN
    return Operation.UNASSIGN
