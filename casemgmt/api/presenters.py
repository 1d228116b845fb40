"""What the API shows: application and read-model objects turned into what the representations dump.

`case_view` is also what `casemgmt case show` prints, so the command line and the API agree.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, Final
from uuid import UUID

from casemgmt.api.representations import CaseView
from casemgmt.domain import Actor, Channel, InquiryKind, InsuranceLine, Priority, Status

if TYPE_CHECKING:
    from casemgmt.domain import Case
    from casemgmt.domain.routing import RoutingRules
    from casemgmt.queries import QueueItem, QueueOverview
    from casemgmt.readmodels.case_summary import CaseSummary

# What every event carries besides its own data; the history shows these beside `data`.
_ENVELOPE: Final = frozenset(
    {
        "originator_id",
        "originator_version",
        "originator_topic",
        "timestamp",
        "actor",
        "cause",
        "correlation_id",
        "status",
    }
)


def case_state(case: Case, routing: RoutingRules) -> dict[str, Any]:
    """The case's attributes as `CaseView` dumps them; `routing` says which queue it is in."""
    return {
        "id": case.id,
        "reference": case.reference,
        "status": case.status,
        "version": case.version,
        "channel": case.channel,
        "external_ref": case.external_ref,
        "subject": case.subject,
        "body": case.body,
        "requester": case.requester,
        "category": case.category,
        "priority": case.priority,
        "unit": case.unit,
        "queue": routing.queue_of(case),
        "assignee": case.assignee,
        "escalation_level": case.escalation_level,
        "received_at": case.received_at,
        "first_replied_at": case.first_replied_at,
        "resolved_at": case.resolved_at,
        "closed_at": case.closed_at,
        "last_activity_at": case.last_activity_at,
        "sla": {},
        "links": {"merged_into": case.merged_into, "merged_from": case.merged_from},
        "messages": case.messages,
        "notes": case.notes,
        "resolution": case.resolution,
        "resolution_summary": case.resolution_summary,
        "feedback": case.feedback,
        "allowed_actions": [action.path for action in case.allowed_actions()],
    }


def case_view(case: Case, routing: RoutingRules) -> dict[str, Any]:
    """The case as the API shows it, JSON-native."""
    view: dict[str, Any] = CaseView().dump(case_state(case, routing))
    return view


def history_entry(event: Case.Event) -> dict[str, Any]:
    """One event as `HistoryEntryView` dumps it."""
    data = {key: _json_native(value) for key, value in vars(event).items()}
    return {
        "type": type(event).__name__,
        "version": event.originator_version,
        "timestamp": event.timestamp,
        "actor": Actor.from_dict(event.actor),
        "cause": event.cause,
        "correlation_id": event.correlation_id,
        "status": Status(event.status),
        "data": {key: value for key, value in data.items() if key not in _ENVELOPE},
    }


def summary_state(summary: CaseSummary) -> dict[str, Any]:
    """A row of the case list as `CaseSummaryView` dumps it."""
    return {
        "id": summary.case_id,
        "reference": summary.reference,
        "status": Status(summary.status),
        "version": summary.version,
        "channel": Channel(summary.channel),
        "subject": summary.subject,
        "category": _category(summary.category_line, summary.category_kind),
        "priority": Priority(summary.priority),
        "unit": summary.unit,
        "queue": summary.queue,
        "assignee": summary.assignee,
        "escalation_level": summary.escalation_level,
        "received_at": summary.received_at,
        "first_replied_at": summary.first_replied_at,
        "resolved_at": summary.resolved_at,
        "closed_at": summary.closed_at,
        "last_activity_at": summary.last_activity_at,
        "merged_into": summary.merged_into,
        "breached": summary.breached,
    }


def queue_overview_state(overview: QueueOverview) -> dict[str, Any]:
    """A queue's overview as `QueueOverviewView` dumps it."""
    waited = overview.oldest_waiting_seconds
    return {
        "name": overview.name,
        "size": overview.size,
        "by_priority": overview.by_priority,
        "oldest_received_at": overview.oldest_received_at,
        "oldest_waiting_seconds": None if waited is None else int(waited),
        "at_risk": 0,  # SLA clocks will say which cases are at risk
    }


def queue_item_state(position: int, item: QueueItem) -> dict[str, Any]:
    """The case at `position` (from 1) of a queue's work list, as `QueueItemView` dumps it."""
    return {
        "position": position,
        "id": item.case_id,
        "reference": item.reference,
        "subject": item.subject,
        "status": Status(item.status),
        "priority": Priority(item.priority),
        "channel": Channel(item.channel),
        "unit": item.unit,
        "category": _category(item.category_line, item.category_kind),
        "escalation_level": item.escalation_level,
        "received_at": item.received_at,
        "due_at": item.due_at,
        "waiting_seconds": int(item.waiting_seconds),
    }


def _category(line: str | None, kind: str | None) -> dict[str, Any]:
    return {
        "line": None if line is None else InsuranceLine(line),
        "kind": None if kind is None else InquiryKind(kind),
    }


def _json_native(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, dict):
        return {str(key): _json_native(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_json_native(item) for item in value]
    return value
