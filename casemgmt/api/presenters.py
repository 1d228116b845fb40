"""What the API shows: application and read-model objects turned into what the representations dump.

`case_view` is also what `casemgmt case show` prints, so the command line and the API agree.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from casemgmt.api.representations import AuditEventView, CaseView
from casemgmt.domain import Actor, Channel, InsuranceLine, Priority, Role, Status
from casemgmt.domain.sla import ClockName, ClockState
from casemgmt.queries.sla import clock_state_at, is_at_risk
from casemgmt.readmodels.audit_entry import ReadView, event_data, readable_history

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence
    from datetime import datetime

    from casemgmt.domain import Case, Message
    from casemgmt.domain.routing import RoutingRules
    from casemgmt.domain.sla_policy import SlaPolicy
    from casemgmt.queries import QueueItem, QueueOverview
    from casemgmt.queries.sla import CaseClock
    from casemgmt.readmodels.audit_entry import AuditEntry, CaseRead
    from casemgmt.readmodels.case_summary import CaseSummary


def case_state(
    case: Case, routing: RoutingRules, policy: SlaPolicy | None, now: datetime
) -> dict[str, Any]:
    """The case's attributes as `CaseView` dumps them; `routing` says which queue it is in.

    The SLA clocks are shown as they stand at `now` (for a past state: the moment asked for),
    counted in the calendars of `policy`.
    """
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
        "sla": sla_view(case, policy, now),
        "links": {"merged_into": case.merged_into, "merged_from": case.merged_from},
        "messages": case.messages,
        "notes": case.notes,
        "resolution": case.resolution,
        "resolution_summary": case.resolution_summary,
        "feedback": case.feedback,
        "allowed_actions": [action.path for action in case.allowed_actions()],
    }


def intake_case_state(case: Case, messages: Sequence[Message]) -> dict[str, Any]:
    """What an intake account sees of a case it opened, as `CaseView` dumps it: no requester, no
    notes, no assignee or other internal field, and only the messages it delivered itself."""
    return {
        "id": case.id,
        "reference": case.reference,
        "status": case.status,
        "version": case.version,
        "channel": case.channel,
        "external_ref": case.external_ref,
        "received_at": case.received_at,
        "last_activity_at": case.last_activity_at,
        "resolved_at": case.resolved_at,
        "closed_at": case.closed_at,
        "messages": messages,
    }


def case_view(
    case: Case, routing: RoutingRules, policy: SlaPolicy | None, now: datetime
) -> dict[str, Any]:
    """The case as the API shows it, JSON-native."""
    view: dict[str, Any] = CaseView().dump(case_state(case, routing, policy, now))
    return view


def sla_view(case: Case, policy: SlaPolicy | None, now: datetime) -> dict[str, Any]:
    """Each SLA clock at `now`: deadline, state, and working seconds left (negative: overdue)."""
    if policy is None:
        return {}
    shown = {}
    for name, clock in case.clocks.items():
        calendar = policy.calendars.get(clock.terms.calendar)
        calendar = calendar or policy.calendars[policy.default_calendar]
        remaining = clock.remaining_at(now, calendar)
        shown[name.value] = {
            "due": clock.due,
            "state": clock.state_at(now).value,
            "remaining_seconds": int(remaining.total_seconds()),
            "target": clock.terms.target,
            "calendar": clock.terms.calendar,
            "policy_version": clock.terms.policy_version,
        }
    return shown


def history_entries(events: Iterable[Case.Event]) -> list[dict[str, Any]]:
    """A case's events, in order, as `HistoryEntryView` dumps them."""
    return [history_entry(event, changes) for event, changes in readable_history(events)]


def history_entry(event: Case.Event, changes: list[str]) -> dict[str, Any]:
    """One event, and what it changed in words, as `HistoryEntryView` dumps it."""
    return {
        "type": type(event).__name__,
        "version": event.originator_version,
        "timestamp": event.timestamp,
        "actor": Actor.from_dict(event.actor),
        "cause": event.cause,
        "correlation_id": event.correlation_id,
        "status": Status(event.status),
        "changes": changes,
        "data": event_data(event),
    }


def audit_event_state(entry: AuditEntry) -> dict[str, Any]:
    """An entry of the action log as `AuditEventView` dumps it."""
    return {
        "notification_id": entry.notification_id,
        "case_id": entry.case_id,
        "case_reference": entry.case_reference,
        "type": entry.event_type,
        "version": entry.version,
        "timestamp": entry.occurred_at,
        "actor": Actor(entry.actor_id, Role(entry.actor_role), entry.on_behalf_of),
        "cause": entry.cause,
        "correlation_id": entry.correlation_id,
        "unit": entry.unit,
        "status": Status(entry.status),
        "changes": entry.changes,
        "data": entry.data,
    }


def audit_event_view(entry: AuditEntry) -> dict[str, Any]:
    """An entry of the action log as the API shows it, JSON-native (`casemgmt audit export`)."""
    view: dict[str, Any] = _AUDIT_EVENT_VIEW.dump(audit_event_state(entry))
    return view


# Made once: an export dumps entries by the hundred thousand, and making a schema costs more
# than dumping with it.
_AUDIT_EVENT_VIEW: Final = AuditEventView()


def case_read_state(read: CaseRead) -> dict[str, Any]:
    """A read of a case as `CaseReadView` dumps it."""
    return {
        "read_at": read.read_at,
        "account": read.account,
        "role": Role(read.role),
        "on_behalf_of": read.on_behalf_of,
        "case_id": read.case_id,
        "case_reference": read.case_reference,
        "view": ReadView(read.view),
        "correlation_id": read.correlation_id,
    }


def summary_state(summary: CaseSummary, now: datetime) -> dict[str, Any]:
    """A row of the case list as `CaseSummaryView` dumps it, its clocks as they stand at `now`."""
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
        "external_ref": summary.external_ref,
        "first_response_due": summary.first_response_due,
        "first_response_state": _clock_state(summary, ClockName.FIRST_RESPONSE, now),
        "resolution_due": summary.resolution_due,
        "resolution_state": _clock_state(summary, ClockName.RESOLUTION, now),
        "breached": summary.breached,
        "at_risk": is_at_risk(summary, now),
    }


def intake_summary_state(summary: CaseSummary) -> dict[str, Any]:
    """A row of the case list as an intake account sees it (`intake_case_state`, no messages)."""
    return {
        "id": summary.case_id,
        "reference": summary.reference,
        "status": Status(summary.status),
        "version": summary.version,
        "channel": Channel(summary.channel),
        "external_ref": summary.external_ref,
        "received_at": summary.received_at,
        "last_activity_at": summary.last_activity_at,
        "resolved_at": summary.resolved_at,
        "closed_at": summary.closed_at,
    }


def queue_overview_state(overview: QueueOverview, at_risk: int) -> dict[str, Any]:
    """A queue's overview as `QueueOverviewView` dumps it; `at_risk` waiting cases have a clock
    at risk or breached."""
    waited = overview.oldest_waiting_seconds
    return {
        "name": overview.name,
        "size": overview.size,
        "by_priority": overview.by_priority,
        "oldest_received_at": overview.oldest_received_at,
        "oldest_waiting_seconds": None if waited is None else int(waited),
        "at_risk": at_risk,
    }


def page_state(
    items: Sequence[dict[str, Any]], total: int, page: int, per_page: int
) -> dict[str, Any]:
    """A page of a list as the list views (`PageView`) dump it."""
    return {
        "items": items,
        "total": total,
        "page": page,
        "per_page": per_page,
        "pages": -(-total // per_page),
    }


def breach_state(found: CaseClock, now: datetime) -> dict[str, Any]:
    """A clock past its deadline as `BreachView` dumps it: overdue by wall-clock seconds."""
    return {**_case_clock(found), "overdue_seconds": int((now - found.due).total_seconds())}


def at_risk_state(found: CaseClock, now: datetime) -> dict[str, Any]:
    """A clock at risk as `AtRiskView` dumps it: wall-clock seconds left."""
    return {**_case_clock(found), "seconds_left": int((found.due - now).total_seconds())}


def _case_clock(found: CaseClock) -> dict[str, Any]:
    return {
        "id": found.case_id,
        "reference": found.reference,
        "subject": found.subject,
        "status": Status(found.status),
        "priority": Priority(found.priority),
        "channel": Channel(found.channel),
        "unit": found.unit,
        "queue": found.queue,
        "assignee": found.assignee,
        "clock": ClockName(found.clock),
        "due": found.due,
    }


def _clock_state(summary: CaseSummary, clock: ClockName, now: datetime) -> ClockState | None:
    state = clock_state_at(summary, clock, now)
    return None if state is None else ClockState(state)


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
        "kind": kind,
    }
