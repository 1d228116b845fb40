"""A case as lists, filters and work queues see it: one row of the case list.

`casemgmt.projections.summaries` folds events into it. Values are the strings the events carry
(`"in_progress"`, `"health"`), which is what the table stores and the API returns.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from datetime import datetime
from typing import Any, Final
from uuid import UUID

# The PostgreSQL table of the case list, one row per case.
TABLE: Final = "case_summaries"


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
    # SLA clocks (None until a clock starts): deadline, warning instant, running | paused | met |
    # breached, and when the SLA timer must next look at the clock.
    first_response_due: datetime | None = None
    first_response_warning_at: datetime | None = None
    first_response_state: str | None = None
    first_response_alarm_at: datetime | None = None
    resolution_due: datetime | None = None
    resolution_warning_at: datetime | None = None
    resolution_state: str | None = None
    resolution_alarm_at: datetime | None = None
    next_sla_alarm_at: datetime | None = None
    # Who opened the case (the account of its `Received`) and the channel's own reference: an
    # intake account lists only the cases it opened (migration 0010; a rebuild fills old rows).
    opened_by: str | None = None
    external_ref: str | None = None
    # When a resolved case closes by itself (its `SurveyRequested`; migration 0012).
    auto_close_at: datetime | None = None
    # What the SLA clocks follow besides the columns above, so that `sla apply` can recompute
    # deadlines from the list (`casemgmt.application.clock_recompute`; migration 0016): the first
    # message out (a reply or a request for information) and each clock as its latest SLA event
    # carries it (JSON-native: ISO-8601 moments). `clocks_known`: this row was folded from the
    # case's `Received` on by a version that keeps both (older rows, until a rebuild, are not).
    first_response_at: datetime | None = None
    sla_clocks: dict[str, Any] | None = None
    clocks_known: bool = False

    @property
    def breached(self) -> bool:
        return self.first_response_breached or self.resolution_breached

    def as_json(self) -> dict[str, Any]:
        """A JSON-native form (ISO-8601 moments, string ids), for stores such as Redis."""
        data = asdict(self)
        del data["sla_clocks"], data["clocks_known"]  # only the case list keeps them
        for name in _MOMENTS:
            if data[name] is not None:
                data[name] = data[name].isoformat()
        data["case_id"] = str(self.case_id)
        data["merged_into"] = None if self.merged_into is None else str(self.merged_into)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CaseSummary:
        """The summary from `as_json`'s form (extra keys are ignored)."""
        data = {name: data.get(name) for name in COLUMNS}  # newer columns may be missing
        for name in _MOMENTS:
            if data[name] is not None:
                data[name] = datetime.fromisoformat(data[name])
        data["case_id"] = UUID(data["case_id"])
        data["clocks_known"] = False
        if data["merged_into"] is not None:
            data["merged_into"] = UUID(data["merged_into"])
        return cls(**data)


COLUMNS: Final = tuple(f.name for f in fields(CaseSummary))
# What lists read: all but the clocks' stored form, which only `sla apply` needs.
LISTED: Final = tuple(name for name in COLUMNS if name != "sla_clocks")
_MOMENTS: Final = tuple(name for name in COLUMNS if name.endswith(("_at", "_due")))
