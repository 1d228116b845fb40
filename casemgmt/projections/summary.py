"""A case as lists, filters and work queues see it, and how each event of a case changes it.

Both the PostgreSQL read table and the Redis work queues fold the same events with `evolve`, so a
case's queue and status can never differ between the two. Values are the strings the events carry
(`"in_progress"`, `"health"`), which is what the table stores and the API returns.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final
from uuid import UUID

from casemgmt.domain import Case, Status

if TYPE_CHECKING:
    from collections.abc import Callable

    from casemgmt.projections.routing import RoutingRules


@dataclass(slots=True)
class CaseSummary:
    """One case's row in the case list (`case_summaries`)."""

    case_id: UUID
    reference: str
    status: str
    channel: str
    subject: str
    category_line: str | None
    category_kind: str | None
    priority: str
    unit: str | None
    queue: str | None
    assignee: str | None
    escalation_level: int
    received_at: datetime
    first_replied_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None
    merged_into: UUID | None
    first_response_breached: bool
    resolution_breached: bool
    last_activity_at: datetime
    version: int

    @property
    def breached(self) -> bool:
        return self.first_response_breached or self.resolution_breached

    def as_json(self) -> dict[str, Any]:
        """A JSON-native form (ISO-8601 moments, string ids), for stores such as Redis."""
        data = asdict(self)
        for name in _MOMENTS:
            if data[name] is not None:
                data[name] = data[name].isoformat()
        data["case_id"] = str(self.case_id)
        data["merged_into"] = None if self.merged_into is None else str(self.merged_into)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CaseSummary:
        """The summary from `as_json`'s form (extra keys are ignored)."""
        data = {name: data[name] for name in COLUMNS}
        for name in _MOMENTS:
            if data[name] is not None:
                data[name] = datetime.fromisoformat(data[name])
        data["case_id"] = UUID(data["case_id"])
        if data["merged_into"] is not None:
            data["merged_into"] = UUID(data["merged_into"])
        return cls(**data)


COLUMNS: Final = tuple(f.name for f in fields(CaseSummary))
_MOMENTS: Final = tuple(name for name in COLUMNS if name.endswith("_at"))


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
    """What the event adds to the searchable text of its case: subject, body, messages."""
    if isinstance(event, Case.Received):
        return f"{event.subject}\n{event.body}" if event.body else event.subject
    if isinstance(event, Case.Replied | Case.InformationRequested | Case.CitizenMessageReceived):
        return event.message
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


def _escalated(summary: CaseSummary, event: Any) -> None:
    summary.escalation_level = event.level


def _transferred(summary: CaseSummary, event: Any) -> None:
    summary.unit = event.unit
    summary.assignee = None


def _resolved(summary: CaseSummary, event: Any) -> None:
    summary.resolved_at = event.timestamp


def _reopened(summary: CaseSummary, _: Any) -> None:
    summary.resolved_at = summary.closed_at = None


def _closed(summary: CaseSummary, event: Any) -> None:
    summary.closed_at = event.timestamp


def _merged_into(summary: CaseSummary, event: Any) -> None:
    summary.merged_into = event.into


# Events missing here (NoteAdded, InformationRequested, CitizenMessageReceived, MergeRecorded,
# FeedbackRecorded) change only what every event changes: status, version, last activity.
_CHANGES: Final[dict[type[Case.Event], Callable[[CaseSummary, Any], None]]] = {
    Case.Triaged: _triaged,
    Case.Assigned: _assigned,
    Case.Unassigned: _unassigned,
    Case.Replied: _replied,
    Case.Escalated: _escalated,
    Case.Transferred: _transferred,
    Case.Resolved: _resolved,
    Case.Reopened: _reopened,
    Case.Closed: _closed,
    Case.MergedInto: _merged_into,
}
