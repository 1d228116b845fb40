"""The pure domain: the Case aggregate, its lifecycle and the values it is made of.

Imports only the standard library and `eventsourcing.domain`; reads no clock and does no I/O, so the
moment of every command comes in through its `Context`.
"""

from casemgmt.domain.actors import ACCOUNT_ROLES, Actor, Context, Role
from casemgmt.domain.case import CLOCK_SKEW_ALLOWANCE, INTAKE_NAMESPACE, Case
from casemgmt.domain.conversation import Direction, Feedback, Message, Note
from casemgmt.domain.lifecycle import (
    TRANSITIONS,
    UNCHANGED,
    Action,
    ActionNotAllowed,
    ActionRule,
    BodyField,
    FieldKind,
    Status,
    Unchanged,
    allowed_actions,
    next_status,
)
from casemgmt.domain.requests import (
    Category,
    Channel,
    InquiryKind,
    InsuranceLine,
    Priority,
    Requester,
    RequesterKind,
)
from casemgmt.domain.validation import InvalidCommand

__all__ = [
    "ACCOUNT_ROLES",
    "CLOCK_SKEW_ALLOWANCE",
    "INTAKE_NAMESPACE",
    "TRANSITIONS",
    "UNCHANGED",
    "Action",
    "ActionNotAllowed",
    "ActionRule",
    "Actor",
    "BodyField",
    "Case",
    "Category",
    "Channel",
    "Context",
    "Direction",
    "Feedback",
    "FieldKind",
    "InquiryKind",
    "InsuranceLine",
    "InvalidCommand",
    "Message",
    "Note",
    "Priority",
    "Requester",
    "RequesterKind",
    "Role",
    "Status",
    "Unchanged",
    "allowed_actions",
    "next_status",
]
