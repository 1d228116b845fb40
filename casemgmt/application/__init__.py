"""The care centre's application layer: commands on cases, who may give them, claim-next.

* `care_centre`: `CareCentre`, the eventsourcing application (intake, `act`, reading);
* `authorization`: the role table (derived from the action declarations) and the ownership rule;
* `claims`: claim-next over a port to the work queues;
* `references`: the port that numbers new cases;
* `directory`: the port to the accounts that commands name (whom `assign` gives a case to);
* `errors`: what the application refuses.
"""

from casemgmt.application.authorization import (
    CALLS,
    CASE_HOLDERS,
    OPERATIONS,
    PERMISSIONS,
    Forbidden,
    authorize,
    may,
    narrowed,
    roles_that_may,
)
from casemgmt.application.care_centre import DEFAULT_REOPEN_WINDOW, CareCentre
from casemgmt.application.claims import Claims, WaitingCases
from casemgmt.application.directory import AccountDirectory, AccountStanding
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
    "CASE_HOLDERS",
    "DEFAULT_REOPEN_WINDOW",
    "OPERATIONS",
    "PERMISSIONS",
    "AccountDirectory",
    "AccountStanding",
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
    "narrowed",
    "roles_that_may",
]
