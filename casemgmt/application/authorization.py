"""Who may do what, and on which case: the role table and the ownership rule.

The role table is derived: each action's roles come from its declaration (`casemgmt.domain.Action`),
and the few calls that are not actions (opening and reading cases, reading queues, claiming,
reading the audit trail) are declared in `CALLS` below. On top of the role, the case decides:

* an agent acts on the cases assigned to them; on an unassigned case an agent may only take it
  (assign it to themselves, or claim it); acting on another agent's case is a supervisor's work;
* taking a case that another agent holds, or handing an unassigned case to someone else, is
  reassigning it (`reassign`), which only supervisors and admins may do;
* a case is held by an existing, enabled account whose role may work cases (`CASE_HOLDERS`);
* an intake account sees only the cases it opened (others are not found: their existence is not
  revealed), and of those only what it needs (`narrowed`);
* `X-On-Behalf-Of` may name only the requester of the case concerned (its id or its name): nobody
  acts for another account or role (`check_on_behalf`).
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Final

from casemgmt.application.errors import CaseNotFound
from casemgmt.domain import ACCOUNT_ROLES, Action, InvalidCommand, Role
from casemgmt.domain.lifecycle import SUPERVISORS, WORKERS

if TYPE_CHECKING:
    from uuid import UUID

    from casemgmt.application.directory import AccountStanding
    from casemgmt.domain import Actor, Case, Requester

# The calls that are not actions on a case, and who may make them.
CALLS: Final[dict[str, frozenset[Role]]] = {
    "open": frozenset({Role.INTAKE, Role.ADMIN}),
    "read": frozenset({Role.INTAKE, Role.AUDITOR}) | WORKERS,  # intake: its own cases, narrowed
    "read-history": frozenset({Role.AUDITOR}) | WORKERS,  # every event, notes included
    "read-queues": frozenset({Role.AUDITOR}) | WORKERS,
    "claim": WORKERS,  # take the next case of a queue: assign it to oneself
    "reassign": SUPERVISORS,  # assign or unassign a case someone other than the caller holds
    "audit": frozenset({Role.AUDITOR, Role.ADMIN}),  # the action log, reads, account changes
    "accounts": frozenset({Role.ADMIN}),  # list, add, disable, enable, rotate accounts
    "erase": frozenset({Role.ADMIN}),  # erase a requester's personal data (crypto-shredding)
    # Active care: supervisors plan conferences and Q&A sessions and record them as held; the
    # agents who staff them record the questions raised there (each opens an in-person case).
    "schedule-session": SUPERVISORS,
    "record-session": SUPERVISORS,
    "raise-question": WORKERS,
    "read-sessions": frozenset({Role.AUDITOR}) | WORKERS,
    "read-reports": frozenset({Role.SUPERVISOR, Role.AUDITOR, Role.ADMIN}),  # summary, analysis
}
# What `X-On-Behalf-Of` is recorded as when it names the case's requester.
ON_BEHALF_OF_REQUESTER: Final = "requester"
# The roles whose accounts may hold (be assigned) a case: those that may work one.
CASE_HOLDERS: Final = WORKERS
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


def narrowed(actor: Actor) -> bool:
    """Whether the actor sees the narrowed view of a case: what an intake account needs (id,
    reference, status, channel, external_ref, the messages it recorded, timestamps)."""
    return actor.role is Role.INTAKE


def check_visible(actor: Actor, case_id: UUID, opened_by: str | None) -> None:
    """Refuses, as not found, a case an intake account did not open (rule: intake sees only the
    cases it opened; that another exists is not revealed)."""
    if narrowed(actor) and opened_by != actor.id:
        raise CaseNotFound(case_id)


def check_on_behalf(actor: Actor, operation: str, requester: Requester) -> Actor:
    """The actor as recorded, after refusing an `X-On-Behalf-Of` that names anyone but the
    requester of the case concerned.

    Whoever relays or serves the requester (intake, an agent on the phone) may say so: with
    `requester`, or the requester's id or name as the case has them. It is recorded as
    `requester`, so that no name or identity number lands in the actor of an event or a read
    (the case holds them, where erasure finds them). Nobody acts for another account or role.
    """
    on_behalf_of = actor.on_behalf_of
    if on_behalf_of is None or on_behalf_of == ON_BEHALF_OF_REQUESTER:
        return actor
    if on_behalf_of in (requester.id, requester.name):
        return replace(actor, on_behalf_of=ON_BEHALF_OF_REQUESTER)
    raise Forbidden(
        actor,
        operation,
        "X-On-Behalf-Of may name only the requester of the case (`requester`, or their id or "
        "name as the case records them); leave it out to act as yourself",
    )


def check_holder(name: str, standing: AccountStanding | None) -> None:
    """Refuses (422, field `agent`) to give a case to anyone but an enabled account that may
    hold cases: a case given to a ghost or an auditor would leave every queue, worked by nobody."""
    if standing is None:
        raise InvalidCommand("agent", f"no account is named {name!r}")
    if not standing.enabled:
        raise InvalidCommand("agent", f"the account {name!r} is disabled")
    if standing.role not in CASE_HOLDERS:
        holders = ", ".join(role.value for role in ACCOUNT_ROLES if role in CASE_HOLDERS)
        raise InvalidCommand(
            "agent",
            f"the account {name!r} is an {standing.role.value} account, which cannot hold cases "
            f"(roles that can: {holders})",
        )
