"""Running the projections: following the event log, electing one active worker, rebuilding.

* `log`: a notification log (the cases', or the sessions'), read in order and in batches of
  decoded events;
* `runner`: a thread per projection that stands by for its lock, catches up, then follows;
* `registry`: the care centre's projections by name (lag, rebuild, a worker for them).
"""

from casemgmt.runtime.log import Batch, EventLog
from casemgmt.runtime.registry import Projections, UnknownProjection, build_projections
from casemgmt.runtime.runner import ProjectionRunner, ProjectionWorker

__all__ = [
    "Batch",
    "EventLog",
    "ProjectionRunner",
    "ProjectionWorker",
    "Projections",
    "UnknownProjection",
    "build_projections",
]
