"""What the API answers: a case, its history, the case list, the work queues, health, a problem.

These schemas only dump; `casemgmt.api.presenters` gathers what they dump from the application.
(Over 300 lines because every answer's shape is here, so the OpenAPI document's components are
read in one place; each schema is a few declarative lines.)
"""

from __future__ import annotations

from typing import Any, Final

from marshmallow import Schema, fields

from casemgmt.api.schemas import enum_field
from casemgmt.domain import (
    Channel,
    Direction,
    InsuranceLine,
    Priority,
    RequesterKind,
    Role,
    Status,
)
from casemgmt.domain.sla import ClockName, ClockState
from casemgmt.readmodels.audit_entry import ReadView

NULLABLE: Final[dict[str, Any]] = {"required": True, "allow_none": True}


def _text(**kwargs: Any) -> fields.String:
    return fields.String(required=True, **kwargs)


def _moment(**kwargs: Any) -> fields.DateTime:
    return fields.DateTime(required=True, **kwargs)


class RequesterView(Schema):
    kind = enum_field(RequesterKind, required=True)
    id = fields.String(**NULLABLE)
    name = _text()
    contact = fields.String(**NULLABLE)


class CategoryView(Schema):
    line = enum_field(InsuranceLine, **NULLABLE)
    kind = fields.String(**NULLABLE)


class MessageView(Schema):
    direction = enum_field(
        Direction, required=True, metadata={"description": "in: from the requester"}
    )
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


def _clock_state() -> fields.Enum[Any]:
    return enum_field(
        ClockState,
        **NULLABLE,
        metadata={
            "description": "running, paused, met or breached (a running clock past its deadline "
            "is breached); null: no clock"
        },
    )


class SlaClockView(Schema):
    due = _moment()
    state = fields.String(
        required=True, metadata={"enum": ["running", "paused", "met", "breached"]}
    )
    remaining_seconds = fields.Integer(
        required=True,
        metadata={"description": "Working seconds left in the calendar; negative when overdue"},
    )
    target = _text(metadata={"description": "The target, an ISO-8601 business duration"})
    calendar = _text(metadata={"description": "The business calendar the clock counts in"})
    policy_version = _text(metadata={"description": "The SLA policy the target came from"})


class CaseView(Schema):
    """A case as it is now, or as it was at a version or a moment.

    An intake account sees only `id`, `reference`, `status`, `version`, `channel`,
    `external_ref`, `received_at`, `last_activity_at`, `resolved_at`, `closed_at` and the
    `messages` it delivered itself (of the cases it opened).
    """

    id = fields.UUID(required=True)
    reference = _text(metadata={"description": "Human-readable and unique: CC-2026-000001"})
    status = enum_field(Status, required=True)
    version = fields.Integer(required=True, metadata={"description": "Also the ETag"})
    channel = enum_field(Channel, required=True)
    external_ref = fields.String(**NULLABLE)
    subject = _text()
    body = fields.String(**NULLABLE)
    requester = fields.Nested(RequesterView, required=True)
    category = fields.Nested(CategoryView, required=True)
    priority = enum_field(Priority, required=True)
    unit = fields.String(**NULLABLE)
    queue = fields.String(
        **NULLABLE,
        metadata={
            "description": "The work queue the routing rules give the case; null until triaged"
        },
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
            "description": "One entry per SLA clock (first_response, resolution), as it "
            "stands now (or at the moment or version asked for)"
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
    role = enum_field(Role, required=True)
    on_behalf_of = fields.String(**NULLABLE)


class HistoryEntryView(Schema):
    """One event of a case."""

    type = _text(metadata={"description": "The event's name: Received, Triaged, Assigned, …"})
    version = fields.Integer(required=True)
    timestamp = _moment()
    actor = fields.Nested(ActorView, required=True)
    cause = _text(metadata={"description": "api, channel:<channel>, rule:…, timer:…"})
    correlation_id = _text()
    status = enum_field(
        Status, required=True, metadata={"description": "The status after the event"}
    )
    changes = fields.List(
        fields.String(),
        required=True,
        metadata={
            "description": 'What the event changed, in words: "priority: normal → urgent", '
            '"assignee: lan.nguyen → —" (— for none)'
        },
    )
    data = fields.Dict(required=True, metadata={"description": "What the event records"})


class AuditEventView(HistoryEntryView):
    """An event of the care centre as the action log keeps it."""

    notification_id = fields.Integer(
        required=True, metadata={"description": "Its place in the care centre's event log"}
    )
    case_id = fields.UUID(required=True)
    case_reference = fields.String(**NULLABLE)
    unit = fields.String(**NULLABLE, metadata={"description": "The case's unit after the event"})


class CaseSummaryView(Schema):
    """A case as the case list shows it (GET /cases/{id} for all of it).

    An intake account lists only the cases it opened, each with `id`, `reference`, `status`,
    `version`, `channel`, `external_ref` and its timestamps.
    """

    id = fields.UUID(required=True)
    reference = _text()
    status = enum_field(Status, required=True)
    version = fields.Integer(required=True, metadata={"description": "The version listed"})
    channel = enum_field(Channel, required=True)
    external_ref = fields.String(
        allow_none=True, metadata={"description": "The channel's own reference of the message"}
    )
    subject = _text()
    category = fields.Nested(CategoryView, required=True)
    priority = enum_field(Priority, required=True)
    unit = fields.String(**NULLABLE)
    queue = fields.String(
        **NULLABLE,
        metadata={"description": "Where the routing rules put the case; null until triaged"},
    )
    assignee = fields.String(**NULLABLE)
    escalation_level = fields.Integer(required=True)
    received_at = _moment()
    first_replied_at = fields.DateTime(**NULLABLE)
    resolved_at = fields.DateTime(**NULLABLE)
    closed_at = fields.DateTime(**NULLABLE)
    last_activity_at = _moment()
    merged_into = fields.UUID(**NULLABLE)
    first_response_due = fields.DateTime(
        **NULLABLE, metadata={"description": "The first-response deadline; null: no clock"}
    )
    first_response_state = _clock_state()
    resolution_due = fields.DateTime(
        **NULLABLE, metadata={"description": "The resolution deadline; null: no clock"}
    )
    resolution_state = _clock_state()
    breached = fields.Boolean(
        required=True,
        metadata={"description": "Whether the SLA timer recorded a breach of a clock of the case"},
    )
    at_risk = fields.Boolean(
        required=True,
        metadata={
            "description": "Whether an SLA clock is at risk now: running, past its warning "
            "instant, its deadline not yet passed"
        },
    )


class PageView(Schema):
    """Which page of a list this is, and how many there are."""

    total = fields.Integer(required=True, metadata={"description": "How many match"})
    page = fields.Integer(required=True)
    per_page = fields.Integer(required=True)
    pages = fields.Integer(required=True, metadata={"description": "How many pages there are"})


class CaseListView(PageView):
    """One page of the cases that match, and how many match in all.

    The list is a projection of the event log: it shows a change within moments of it (how far it
    is behind: GET /health, `projections`).
    """

    items = fields.List(fields.Nested(CaseSummaryView), required=True)


class AuditEventListView(PageView):
    """One page of the action log, newest first, and how many entries match in all.

    The action log is a projection of the event log: it shows an event within moments of it (how
    far it is behind: GET /health, `projections`).
    """

    items = fields.List(fields.Nested(AuditEventView), required=True)


class CaseReadView(Schema):
    """A read of a case through the API."""

    read_at = _moment()
    account = _text()
    role = enum_field(Role, required=True)
    on_behalf_of = fields.String(**NULLABLE)
    case_id = fields.UUID(required=True)
    case_reference = _text()
    view = enum_field(
        ReadView,
        required=True,
        metadata={
            "description": "case: GET /cases/{id}; case-as-of: ?as_of=; case-at-version: "
            "?version=; history: GET /cases/{id}/history"
        },
    )
    correlation_id = _text()


class CaseReadListView(PageView):
    """One page of the reads of cases, newest first, and how many match in all.

    A read is written within a fraction of a second of it.
    """

    items = fields.List(fields.Nested(CaseReadView), required=True)


class CaseClockView(Schema):
    """An SLA clock of an open case, with the case."""

    id = fields.UUID(required=True, metadata={"description": "The case"})
    reference = _text()
    subject = _text()
    status = enum_field(Status, required=True)
    priority = enum_field(Priority, required=True)
    channel = enum_field(Channel, required=True)
    unit = fields.String(**NULLABLE)
    queue = fields.String(**NULLABLE)
    assignee = fields.String(**NULLABLE)
    clock = enum_field(ClockName, required=True)
    due = _moment(metadata={"description": "The clock's deadline"})


class BreachView(CaseClockView):
    """An SLA clock past its deadline."""

    overdue_seconds = fields.Integer(
        required=True,
        metadata={
            "description": "Wall-clock seconds since the deadline, nights and holidays included "
            "(GET /cases/{id} gives the working time)"
        },
    )


class AtRiskView(CaseClockView):
    """An SLA clock past its warning instant, before its deadline."""

    seconds_left = fields.Integer(
        required=True,
        metadata={
            "description": "Wall-clock seconds until the deadline (GET /cases/{id} gives the "
            "working time)"
        },
    )


class BreachListView(PageView):
    """One page of the SLA clocks of open cases past their deadline, the most overdue first.

    A clock counts from its deadline on, whether or not the SLA timer has recorded the breach yet,
    while its case is open; one paused (awaiting the citizen) counts once a breach was recorded.
    A case with both clocks breached is listed once for each.
    """

    items = fields.List(fields.Nested(BreachView), required=True)


class AtRiskListView(PageView):
    """One page of the SLA clocks at risk, the soonest due first."""

    items = fields.List(fields.Nested(AtRiskView), required=True)


class PriorityCountsView(Schema):
    urgent = fields.Integer(required=True)
    high = fields.Integer(required=True)
    normal = fields.Integer(required=True)
    low = fields.Integer(required=True)


class QueueOverviewView(Schema):
    """How a work queue stands: the cases waiting in it for an agent (triaged, nobody assigned)."""

    name = _text()
    size = fields.Integer(required=True, metadata={"description": "How many cases wait"})
    by_priority = fields.Nested(PriorityCountsView, required=True)
    oldest_received_at = fields.DateTime(
        **NULLABLE, metadata={"description": "When the longest-waiting case was received"}
    )
    oldest_waiting_seconds = fields.Integer(
        **NULLABLE, metadata={"description": "For how long it has waited; null: none waits"}
    )
    at_risk = fields.Integer(
        required=True,
        metadata={
            "description": "Waiting cases with an SLA clock at risk (past its warning instant) "
            "or breached now"
        },
    )


class QueueItemView(Schema):
    """A case waiting in a queue."""

    position = fields.Integer(required=True, metadata={"description": "1: the next one claimed"})
    id = fields.UUID(required=True)
    reference = _text()
    subject = _text()
    status = enum_field(Status, required=True)
    priority = enum_field(Priority, required=True)
    channel = enum_field(Channel, required=True)
    unit = fields.String(**NULLABLE)
    category = fields.Nested(CategoryView, required=True)
    escalation_level = fields.Integer(required=True)
    received_at = _moment()
    due_at = _moment(
        metadata={
            "description": "The nearest deadline of a running SLA clock (received_at when none "
            "runs): orders the cases of one priority"
        }
    )
    waiting_seconds = fields.Integer(required=True)


class QueueView(QueueOverviewView):
    """A work queue and its cases in the order claims take them: urgent first, then due time."""

    items = fields.List(fields.Nested(QueueItemView), required=True)


class ProjectionHealthView(Schema):
    status = fields.String(
        required=True,
        metadata={
            "enum": ["up", "lagging", "catching_up", "stopped"],
            "description": "lagging: more than a threshold behind; catching_up: being built from "
            "the start; stopped: behind, and no worker processes it",
        },
    )
    lag = fields.Integer(required=True, metadata={"description": "Notifications behind the log"})
    position = fields.Integer(
        **NULLABLE, metadata={"description": "The last notification written; null: never started"}
    )


class ComponentHealthView(Schema):
    status = fields.String(
        required=True,
        metadata={
            "enum": ["up", "down", "lagging", "catching_up", "stopped"],
            "description": "Only down makes the service unavailable",
        },
    )
    detail = fields.String(**NULLABLE)
    projections = fields.Dict(
        keys=fields.String(),
        values=fields.Nested(ProjectionHealthView),
        metadata={"description": "The projections component: each projection by name"},
    )


class HealthView(Schema):
    """Whether the service can answer (database, Redis), and how far its projections are behind.

    A projection that lags is reported, not a failure: lists and queues answer, a little late.
    """

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
    case_status = enum_field(Status, metadata={"description": "409: the state that refused"})
    allowed_actions = fields.List(fields.String(), metadata={"description": "409"})
    current_version = fields.Integer(metadata={"description": "409 after a conflict, 412"})
    role = fields.String(metadata={"description": "403: the caller's role"})
    operation = fields.String(metadata={"description": "403: what was refused"})
    allowed_roles = fields.List(
        fields.String(), metadata={"description": "403: the roles that may do it"}
    )
    correlation_id = fields.String(allow_none=True)
