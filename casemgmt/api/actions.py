"""The actions on a case as the API offers them: body schema, summary, and the command it gives.

Each command takes the parsed body and calls one method of `CareCentre`; the exceptions are
`assign` and `unassign`, which first read the case to tell whether it is someone else's: taking a
case from another agent is reassigning it, a supervisor's call.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Protocol

from casemgmt.api import schemas
from casemgmt.api.permissions import (
    Operation,
    assignment_operation,
    authorize,
    unassignment_operation,
)
from casemgmt.application import ConcurrentUpdate, StaleVersion
from casemgmt.domain import Action

if TYPE_CHECKING:
    from collections.abc import Callable
    from uuid import UUID

    from marshmallow import Schema

    from casemgmt.application import CareCentre
    from casemgmt.domain import Case, Context

# How often `assign` reads the case again when it changed between the read and the command.
_ASSIGN_ATTEMPTS: Final = 3


class Command(Protocol):
    def __call__(
        self,
        centre: CareCentre,
        case_id: UUID,
        body: dict[str, Any],
        ctx: Context,
        expected_version: int | None,
        /,
    ) -> Case: ...


@dataclass(frozen=True)
class ActionEndpoint:
    """`POST /cases/{id}/{action.path}`."""

    action: Action
    schema: type[Schema]
    summary: str
    command: Command


def _triage(c: CareCentre, id: UUID, b: dict[str, Any], ctx: Context, v: int | None) -> Case:
    return c.triage(id, b["category"], b["priority"], b.get("unit"), ctx, expected_version=v)


def _assign(c: CareCentre, id: UUID, b: dict[str, Any], ctx: Context, v: int | None) -> Case:
    agent = b.get("agent") or ctx.actor.id
    return _decided_on_read(
        c,
        id,
        ctx,
        v,
        operation_of=assignment_operation,
        command=lambda version: c.assign(id, agent, ctx, expected_version=version),
    )


def _unassign(c: CareCentre, id: UUID, _: dict[str, Any], ctx: Context, v: int | None) -> Case:
    return _decided_on_read(
        c,
        id,
        ctx,
        v,
        operation_of=unassignment_operation,
        command=lambda version: c.unassign(id, ctx, expected_version=version),
    )


def _decided_on_read(
    c: CareCentre,
    id: UUID,
    ctx: Context,
    v: int | None,
    *,
    operation_of: Callable[[Case, str], Operation],
    command: Callable[[int], Case],
) -> Case:
    """Authorise on the case as read, then command exactly that version (retried if it moved)."""
    for _ in range(_ASSIGN_ATTEMPTS):
        case = c.get_case(id)
        authorize(ctx.actor.role, operation_of(case, ctx.actor.id))
        if v is not None and v != case.version:
            raise StaleVersion(id, v, case.version)
        try:
            # The permission was decided on this version, so the command must change this one.
            return command(case.version)
        except StaleVersion:
            if v is not None:
                raise
    raise ConcurrentUpdate(id)


def _reply(c: CareCentre, id: UUID, b: dict[str, Any], ctx: Context, v: int | None) -> Case:
    return c.reply(id, b["message"], ctx, expected_version=v)


def _note(c: CareCentre, id: UUID, b: dict[str, Any], ctx: Context, v: int | None) -> Case:
    return c.note(id, b["text"], ctx, expected_version=v)


def _request_info(c: CareCentre, id: UUID, b: dict[str, Any], ctx: Context, v: int | None) -> Case:
    return c.request_info(id, b["message"], ctx, expected_version=v)


def _citizen_message(
    c: CareCentre, id: UUID, b: dict[str, Any], ctx: Context, v: int | None
) -> Case:
    return c.citizen_message(id, b["message"], ctx, expected_version=v)


def _escalate(c: CareCentre, id: UUID, b: dict[str, Any], ctx: Context, v: int | None) -> Case:
    return c.escalate(id, b["reason"], ctx, expected_version=v)


def _transfer(c: CareCentre, id: UUID, b: dict[str, Any], ctx: Context, v: int | None) -> Case:
    return c.transfer(id, b["unit"], b["reason"], ctx, expected_version=v)


def _resolve(c: CareCentre, id: UUID, b: dict[str, Any], ctx: Context, v: int | None) -> Case:
    return c.resolve(id, b["resolution"], b.get("summary"), ctx, expected_version=v)


def _reopen(c: CareCentre, id: UUID, b: dict[str, Any], ctx: Context, v: int | None) -> Case:
    return c.reopen(id, b["reason"], ctx, expected_version=v)


def _close(c: CareCentre, id: UUID, _: dict[str, Any], ctx: Context, v: int | None) -> Case:
    return c.close_case(id, ctx, expected_version=v)


def _merge(c: CareCentre, id: UUID, b: dict[str, Any], ctx: Context, v: int | None) -> Case:
    return c.merge(id, b["into"], ctx, expected_version=v)


def _feedback(c: CareCentre, id: UUID, b: dict[str, Any], ctx: Context, v: int | None) -> Case:
    return c.feedback(id, b["score"], b.get("comment"), ctx, expected_version=v)


_A, _S = Action, schemas

ACTIONS: Final = (
    ActionEndpoint(_A.TRIAGE, _S.TriageSchema, "Categorise, prioritise and route a case.", _triage),
    ActionEndpoint(_A.ASSIGN, _S.AssignSchema, "Give the case to an agent.", _assign),
    ActionEndpoint(_A.UNASSIGN, _S.EmptySchema, "Take the case from its agent.", _unassign),
    ActionEndpoint(_A.REPLY, _S.MessageSchema, "Answer the requester.", _reply),
    ActionEndpoint(_A.NOTE, _S.NoteSchema, "Add an internal note.", _note),
    ActionEndpoint(
        _A.REQUEST_INFO, _S.MessageSchema, "Ask the requester for information.", _request_info
    ),
    ActionEndpoint(
        _A.CITIZEN_MESSAGE,
        _S.MessageSchema,
        "Record a message from the requester.",
        _citizen_message,
    ),
    ActionEndpoint(_A.ESCALATE, _S.ReasonSchema, "Raise the escalation level.", _escalate),
    ActionEndpoint(_A.TRANSFER, _S.TransferSchema, "Hand the case to another unit.", _transfer),
    ActionEndpoint(_A.RESOLVE, _S.ResolveSchema, "Record how the case was resolved.", _resolve),
    ActionEndpoint(_A.REOPEN, _S.ReasonSchema, "Take a resolved or closed case back.", _reopen),
    ActionEndpoint(_A.CLOSE, _S.EmptySchema, "Close a resolved case.", _close),
    ActionEndpoint(_A.MERGE, _S.MergeSchema, "Merge the case into another one.", _merge),
    ActionEndpoint(_A.FEEDBACK, _S.FeedbackSchema, "Record the requester's rating.", _feedback),
)
