"""The projections: writers that fold the care centre's events into read models (rules 1 and 6).

* `case_list`: one row per case in PostgreSQL (`case_summaries`), for lists, filters and search;
* `work_queues`: waiting cases in Redis sorted sets, for overviews and claim-next;
* `audit_log`: one row per event in PostgreSQL (`audit_events`), the action log for audit;
* `reports`: one row per case for the summary (`report_cases`) and the analysis tables;
* `active_care`: one row per conference or Q&A session (`report_sessions`), following the
  sessions' own log rather than the cases';
* `summaries`: how each event changes a case's summary, shared by the case list and the queues;
* `tables`: what the projections into PostgreSQL share (position and rows in one transaction);
* `base`: what every projection has (a name, a position, batch writes, a rebuild).

They write only; `casemgmt.queries` reads what they wrote and `casemgmt.runtime` runs them.
"""

from casemgmt.projections.audit_log import AuditLogProjection
from casemgmt.projections.base import PositionMoved, Progress, Projection
from casemgmt.projections.case_list import CaseListProjection
from casemgmt.projections.work_queues import WorkQueueProjection

__all__ = [
    "AuditLogProjection",
    "CaseListProjection",
    "PositionMoved",
    "Progress",
    "Projection",
    "WorkQueueProjection",
]
