"""What the API answers: a case, its history, the service's health, and a problem.

These schemas only dump; `casemgmt.api.views` gathers what they dump from the application.
"""

from __future__ import annotations

from typing import Any, Final

from marshmallow import Schema, fields

from casemgmt.domain import (
    Channel,
    Direction,
    InquiryKind,
    InsuranceLine,
    Priority,
    RequesterKind,
    Role,
    Status,
)

NULLABLE: Final[dict[str, Any]] = {"required": True, "allow_none": True}


def _enum(enum: Any, **kwargs: Any) -> fields.Enum[Any]:
    return fields.Enum(enum, by_value=True, **kwargs)


def _text(**kwargs: Any) -> fields.String:
    return fields.String(required=True, **kwargs)


def _moment(**kwargs: Any) -> fields.DateTime:
    return fields.DateTime(required=True, **kwargs)


class RequesterView(Schema):
    kind = _enum(RequesterKind, required=True)
    id = fields.String(**NULLABLE)
    name = _text()
    contact = fields.String(**NULLABLE)


class CategoryView(Schema):
    line = _enum(InsuranceLine, **NULLABLE)
    kind = _enum(InquiryKind, **NULLABLE)


class MessageView(Schema):
    direction = _enum(Direction, required=True, metadata={"description": "in: from the requester"})
    author = _text()
    text = _text()
    at = _moment()


class NoteView(Schema):
    author = _text()
    text = _text()
    at = _moment()


class FeedbackView(Schema):
    score = fields.Integer(required=True)
    comment = fields.String(**NULLABLE)
    at = _moment()


class LinksView(Schema):
    merged_into = fields.UUID(**NULLABLE)
    merged_from = fields.List(fields.UUID(), required=True)


class SlaClockView(Schema):
    due = _moment()
    state = fields.String(
        required=True, metadata={"enum": ["running", "paused", "met", "breached"]}
    )
    remaining_seconds = fields.Integer(required=True)


class CaseView(Schema):
    """A case as it is now, or as it was at a version or a moment."""

    id = fields.UUID(required=True)
    reference = _text(metadata={"description": "Human-readable and unique: CC-2026-000001"})
    status = _enum(Status, required=True)
    version = fields.Integer(required=True, metadata={"description": "Also the ETag"})
    channel = _enum(Channel, required=True)
    external_ref = fields.String(**NULLABLE)
    subject = _text()
    body = fields.String(**NULLABLE)
    requester = fields.Nested(RequesterView, required=True)
    category = fields.Nested(CategoryView, required=True)
    priority = _enum(Priority, required=True)
    unit = fields.String(**NULLABLE)
    queue = fields.String(
        **NULLABLE, metadata={"description": "Always null until work queues are introduced"}
    )
    assignee = fields.String(**NULLABLE)
    escalation_level = fields.Integer(required=True)
    received_at = _moment()
    first_replied_at = fields.DateTime(**NULLABLE)
    resolved_at = fields.DateTime(**NULLABLE)
    closed_at = fields.DateTime(**NULLABLE)
    last_activity_at = _moment()
    sla = fields.Dict(
        keys=fields.String(),
        values=fields.Nested(SlaClockView),
        required=True,
        metadata={
            "description": "One entry per SLA clock (first_response, resolution); always empty "
            "until SLA clocks are introduced"
        },
    )
    links = fields.Nested(LinksView, required=True)
    messages = fields.List(fields.Nested(MessageView), required=True)
    notes = fields.List(fields.Nested(NoteView), required=True)
    resolution = fields.String(**NULLABLE)
    resolution_summary = fields.String(**NULLABLE)
    feedback = fields.Nested(FeedbackView, **NULLABLE)
    allowed_actions = fields.List(
        fields.String(),
        required=True,
        metadata={"description": "What may be done now: POST /cases/{id}/{action}"},
    )


class ActorView(Schema):
    id = _text()
    role = _enum(Role, required=True)
    on_behalf_of = fields.String(**NULLABLE)


class HistoryEntryView(Schema):
    """One event of a case."""

    type = _text(metadata={"description": "The event's name: Received, Triaged, Assigned, …"})
    version = fields.Integer(required=True)
    timestamp = _moment()
    actor = fields.Nested(ActorView, required=True)
    cause = _text(metadata={"description": "api, channel:<channel>, rule:…, timer:…"})
    correlation_id = _text()
    status = _enum(Status, required=True, metadata={"description": "The status after the event"})
    data = fields.Dict(required=True, metadata={"description": "What the event records"})


class ComponentHealthView(Schema):
    status = fields.String(required=True, metadata={"enum": ["up", "down"]})
    detail = fields.String(**NULLABLE)


class HealthView(Schema):
    """Whether the service can answer: its database and Redis."""

    status = fields.String(required=True, metadata={"enum": ["ok", "unavailable"]})
    components = fields.Dict(
        keys=fields.String(), values=fields.Nested(ComponentHealthView), required=True
    )


class ProblemSchema(Schema):
    """An error (RFC 9457); 422 adds `errors`, field → messages."""

    type = _text()
    title = _text()
    status = fields.Integer(required=True)
    detail = _text()
    errors = fields.Dict(keys=fields.String(), values=fields.List(fields.String()))
    case_status = _enum(Status, metadata={"description": "409: the state that refused"})
    allowed_actions = fields.List(fields.String(), metadata={"description": "409"})
    current_version = fields.Integer(metadata={"description": "409 after a conflict, 412"})
    role = fields.String(metadata={"description": "403: the caller's role"})
    operation = fields.String(metadata={"description": "403: what was refused"})
    correlation_id = fields.String(allow_none=True)
