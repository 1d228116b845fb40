"""How each event of a case changes its summary, for every projection that keeps summaries.

Both the PostgreSQL case list and the Redis work queues fold the same events with `evolve`, so a
case's queue and status can never differ between the two.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from casemgmt.domain import Case, Status
from casemgmt.domain.requests import ERASED
from casemgmt.domain.sla import ClockState, clock_as_json, clock_from_dict
from casemgmt.readmodels.case_summary import CaseSummary

if TYPE_CHECKING:
    from collections.abc import Callable

    from casemgmt.domain.routing import RoutingRules


def evolve(
    summary: CaseSummary | None, event: Case.Event, routing: RoutingRules
) -> CaseSummary | None:
    """The summary after `event`, changed in place (None: the case is unknown here).

    Every event carries the status after it, so the lifecycle is never re-derived here; the
    queue is the routing rules' answer for any case past intake.
    """
    if isinstance(event, Case.Received):
        summary = _received(event)
    elif summary is None:
        return None  # its Received is not in this log: nothing to build on
    else:
        change = _CHANGES.get(type(event))
        if change is not None:
            change(summary, event)
    summary.status = event.status
    summary.version = event.originator_version
    summary.last_activity_at = event.timestamp
    summary.queue = None if summary.status == Status.RECEIVED.value else routing.route(summary)
    return summary


def words_added(event: Case.Event) -> str | None:
    """What the event adds to the searchable text of its case: subject, body, messages (none of
    what reads as erased)."""
    if isinstance(event, Case.Received):
        words = [text for text in (event.subject, event.body) if text and text != ERASED]
        return "\n".join(words) or None
    if isinstance(event, Case.Replied | Case.InformationRequested | Case.CitizenMessageReceived):
        return None if event.message == ERASED else event.message
    return None


def _received(event: Case.Received) -> CaseSummary:
    return CaseSummary(
        case_id=event.originator_id,
        reference=event.reference,
        status=event.status,
        channel=event.channel,
        subject=event.subject,
        category_line=event.category.get("line"),
        category_kind=event.category.get("kind"),
        priority=event.priority,
        unit=event.unit,
        queue=None,
        assignee=None,
        escalation_level=0,
        received_at=event.received_at,
        first_replied_at=None,
        resolved_at=None,
        closed_at=None,
        merged_into=None,
        first_response_breached=False,
        resolution_breached=False,
        last_activity_at=event.timestamp,
        version=event.originator_version,
        opened_by=event.actor["id"],
        external_ref=event.external_ref,
        clocks_known=True,
    )


def _triaged(summary: CaseSummary, event: Any) -> None:
    summary.category_line = event.category.get("line")
    summary.category_kind = event.category.get("kind")
    summary.priority = event.priority
    summary.unit = event.unit


def _assigned(summary: CaseSummary, event: Any) -> None:
    summary.assignee = event.agent


def _unassigned(summary: CaseSummary, _: Any) -> None:
    summary.assignee = None


def _replied(summary: CaseSummary, event: Any) -> None:
    if summary.first_replied_at is None:
        summary.first_replied_at = event.timestamp
    _message_out(summary, event)


def _message_out(summary: CaseSummary, event: Any) -> None:
    """A reply or a request for information: the first one stops the first-response clock."""
    if summary.first_response_at is None:
        summary.first_response_at = event.timestamp


def _escalated(summary: CaseSummary, event: Any) -> None:
    summary.escalation_level = event.level


def _transferred(summary: CaseSummary, event: Any) -> None:
    summary.unit = event.unit
    summary.assignee = None


def _resolved(summary: CaseSummary, event: Any) -> None:
    summary.resolved_at = event.timestamp


def _survey_requested(summary: CaseSummary, event: Any) -> None:
    summary.auto_close_at = event.auto_close_at


def _reopened(summary: CaseSummary, _: Any) -> None:
    summary.resolved_at = summary.closed_at = summary.auto_close_at = None


def _closed(summary: CaseSummary, event: Any) -> None:
    summary.closed_at = event.timestamp
    summary.auto_close_at = None


def _merged_into(summary: CaseSummary, event: Any) -> None:
    summary.merged_into = event.into
    summary.auto_close_at = None


def _requester_erased(summary: CaseSummary, _: Any) -> None:
    summary.subject = ERASED  # the search text goes too (`case_list`)


def _clock(summary: CaseSummary, event: Any) -> None:
    """An SLA event carries its clock as it is after it: copy what lists and the timer need."""
    clock = clock_from_dict(event.state)
    prefix = clock.name.value
    summary.sla_clocks = {**(summary.sla_clocks or {}), prefix: clock_as_json(clock)}
    state = clock.recorded_state
    setattr(summary, f"{prefix}_due", clock.due)
    setattr(summary, f"{prefix}_warning_at", clock.warning_due)
    setattr(summary, f"{prefix}_state", state.value)
    setattr(summary, f"{prefix}_alarm_at", clock.next_alarm)
    if clock.breached or state is ClockState.BREACHED:
        setattr(summary, f"{prefix}_breached", True)
    alarms = [summary.first_response_alarm_at, summary.resolution_alarm_at]
    summary.next_sla_alarm_at = min((at for at in alarms if at is not None), default=None)


# Events missing here (NoteAdded, CitizenMessageReceived, MergeRecorded,
# FeedbackRecorded) change only what every event changes: status, version, last activity.
_CHANGES: Final[dict[type[Case.Event], Callable[[CaseSummary, Any], None]]] = {
    Case.Triaged: _triaged,
    Case.Assigned: _assigned,
    Case.Unassigned: _unassigned,
    Case.Replied: _replied,
    Case.InformationRequested: _message_out,
    Case.Escalated: _escalated,
    Case.Transferred: _transferred,
    Case.Resolved: _resolved,
    Case.SurveyRequested: _survey_requested,
    Case.Reopened: _reopened,
    Case.Closed: _closed,
    Case.MergedInto: _merged_into,
    Case.RequesterErased: _requester_erased,
    Case.SlaClockStarted: _clock,
    Case.SlaClockPaused: _clock,
    Case.SlaClockResumed: _clock,
    Case.SlaClockStopped: _clock,
    Case.SlaDeadlineRecomputed: _clock,
    Case.SlaWarning: _clock,
    Case.SlaBreached: _clock,
}
