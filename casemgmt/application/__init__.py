"""The care centre's application layer: commands on cases, who may give them, claim-next.

* `care_centre`: `CareCentre`, the eventsourcing application (intake, `act`, reading);
* `authorization`: the role table (derived from the action declarations) and the ownership rule;
* `claims`: claim-next over a port to the work queues;
* `references`: the port that numbers new cases;
* `errors`: what the application refuses.
"""

from casemgmt.application.authorization import (
    CALLS,
    OPERATIONS,
    PERMISSIONS,
    Forbidden,
    authorize,
    may,
    roles_that_may,
)
from casemgmt.application.care_centre import DEFAULT_REOPEN_WINDOW, CareCentre
from casemgmt.application.claims import Claims, WaitingCases
from casemgmt.application.errors import (
    CaseNotFound,
    ConcurrentUpdate,
    IntakeConflict,
    QueueNotFound,
    StaleVersion,
)
from casemgmt.application.references import ReferenceNumbers

__all__ = [
    "CALLS",
    "DEFAULT_REOPEN_WINDOW",
    "OPERATIONS",
    "PERMISSIONS",
    "CareCentre",
    "CaseNotFound",
    "Claims",
    "ConcurrentUpdate",
    "Forbidden",
    "IntakeConflict",
    "QueueNotFound",
    "ReferenceNumbers",
    "StaleVersion",
    "WaitingCases",
    "authorize",
    "may",
    "roles_that_may",
]
