"""Views derived from the care centre's event log (DESIGN.md rules 1 and 6).

* `case_summaries`: one row per case in PostgreSQL, for lists, filters and search (`search_cases`);
* `work_queues`: waiting cases in Redis sorted sets, for overviews and claim-next (`WorkQueues`).

`build_projections(...)` gives them by name; `.worker()` runs them (one active worker per
projection across processes), `.rebuild(name)` recreates one from the log, `.lag()` says how far
behind each is.
"""

from casemgmt.projections.base import PositionMoved, Progress, Projection
from casemgmt.projections.case_summaries import CaseSummaries
from casemgmt.projections.log import Batch, EventLog
from casemgmt.projections.progress import progress_bar
from casemgmt.projections.queues import QueueItem, QueueOverview, WorkQueues
from casemgmt.projections.registry import Projections, UnknownProjection, build_projections
from casemgmt.projections.routing import (
    DEFAULT_ROUTING,
    RoutingError,
    RoutingRule,
    RoutingRules,
    route,
)
from casemgmt.projections.runner import ProjectionRunner, ProjectionWorker, RunnerStatus
from casemgmt.projections.search import search_cases
from casemgmt.projections.summary import CaseSummary
from casemgmt.projections.text import fold
from casemgmt.projections.work_queues import WorkQueueProjection

__all__ = [
    "DEFAULT_ROUTING",
    "Batch",
    "CaseSummaries",
    "CaseSummary",
    "EventLog",
    "PositionMoved",
    "Progress",
    "Projection",
    "ProjectionRunner",
    "ProjectionWorker",
    "Projections",
    "QueueItem",
    "QueueOverview",
    "RoutingError",
    "RoutingRule",
    "RoutingRules",
    "RunnerStatus",
    "UnknownProjection",
    "WorkQueueProjection",
    "WorkQueues",
    "build_projections",
    "fold",
    "progress_bar",
    "route",
    "search_cases",
]
