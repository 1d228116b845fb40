"""Who may do what, and on which case: the role table and the ownership rule.

The role table is derived: each action's roles come from its declaration (`casemgmt.domain.Action`),
and the few calls that are not actions (opening and reading cases, reading queues, claiming,
reading the audit trail) are declared in `CALLS` below. On top of the role, the case decides:

* an agent acts on the cases assigned to them; on an unassigned case an agent may only take it
  (assign it to themselves, or claim it); acting on another agent's case is a supervisor's work;
* taking a case that another agent holds, or handing an unassigned case to someone else, is
  reassigning it (`reassign`), which only supervisors and admins may do.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from casemgmt.domain import ACCOUNT_ROLES, Action, Role
from casemgmt.domain.lifecycle import SUPERVISORS, WORKERS

if TYPE_CHECKING:
    from casemgmt.domain import Actor, Case

# The calls that are not actions on a case, and who may make them.
CALLS: Final[dict[str, frozenset[Role]]] = {
    "open": frozenset({Role.INTAKE, Role.ADMIN}),
    "read": frozenset({Role.INTAKE, Role.AUDITOR}) | WORKERS,
    "read-queues": frozenset({Role.AUDITOR}) | WORKERS,
    "claim": WORKERS,  # take the next case of a queue: assign it to oneself
    "reassign": SUPERVISORS,  # assign or unassign a case someone other than the caller holds
    "audit": frozenset({Role.AUDITOR, Role.ADMIN}),  # the action log and the record of reads
}
OPERATIONS: Final = (*CALLS, *(action.path for action in Action))


def _roles(operation: str) -> frozenset[Role]:
    if operation in CALLS:
        return CALLS[operation]
    return Action.from_path(operation).rule.roles


PERMISSIONS: Final[dict[Role, frozenset[str]]] = {
    role: frozenset(op for op in OPERATIONS if role in _roles(op)) for role in ACCOUNT_ROLES
}


class Forbidden(Exception):  # noqa: N818 -- names read as what happened
    """The caller may not do this, by role or because of whose case it is (the API answers 403)."""

    def __init__(self, actor: Actor, operation: str, reason: str | None = None) -> None:
        self.role = actor.role.value
        self.operation = operation
        self.allowed_roles = sorted(role.value for role in roles_that_may(operation))
        self.reason = reason
        message = f"the role {self.role} may not {operation}"
        super().__init__(f"{message}: {reason}" if reason else message)


def roles_that_may(operation: str) -> list[Role]:
    """The account roles the table lets perform `operation`."""
    return [role for role in ACCOUNT_ROLES if operation in PERMISSIONS[role]]


def may(role: Role, operation: str) -> bool:
    """Whether the table lets `role` perform `operation` (the care centre's own rules and timers,
    role `system`, which no account has, may do anything)."""
    return role is Role.SYSTEM or operation in PERMISSIONS.get(role, frozenset())


def authorize(actor: Actor, operation: str) -> None:
    """Refuses an operation the table does not give the actor's role."""
    if not may(actor.role, operation):
        raise Forbidden(actor, operation)


def authorize_action(actor: Actor, action: Action, case: Case, agent: str | None = None) -> None:
    """Refuses an action the actor may not give on this case (`agent`: whom `assign` names)."""
    authorize(actor, action.path)
    if action in (Action.ASSIGN, Action.UNASSIGN):
        _authorize_assignment(actor, action, case, agent)
    elif actor.role is Role.AGENT and action.rule.held and case.assignee != actor.id:
        raise Forbidden(actor, action.path, _not_theirs(case))


def _authorize_assignment(actor: Actor, action: Action, case: Case, agent: str | None) -> None:
    held_by_other = case.assignee is not None and case.assignee != actor.id
    handed_to_other = (
        action is Action.ASSIGN and case.assignee is None and agent not in (None, actor.id)
    )
    if (held_by_other or handed_to_other) and not may(actor.role, "reassign"):
        raise Forbidden(actor, "reassign")


def _not_theirs(case: Case) -> str:
    if case.assignee is None:
        return (
            f"case {case.reference} is assigned to nobody; take it first "
            "(assign it to yourself or claim it from its queue)"
        )
    return f"case {case.reference} is assigned to {case.assignee}; that is a supervisor's call"
