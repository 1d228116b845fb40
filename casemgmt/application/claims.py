"""Claim-next: an agent takes the next case waiting in a work queue.

The queue (a read model) says which case is next; the case itself has the last word. A claim takes
the head of the queue off it (`WaitingCases.take_next`, atomic: no two claims get the same case),
then assigns it to the caller expecting the very version it checked was still waiting. If the case
changed meanwhile, the assignment is refused: a case that still waits goes back in line, one that
was taken or closed is let go of, and the next one is tried.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final, Generic, Protocol, TypeVar

from casemgmt.application.authorization import Forbidden, authorize
from casemgmt.application.errors import ConcurrentUpdate, QueueNotFound, StaleVersion
from casemgmt.domain import Action, ActionNotAllowed, InvalidCommand

if TYPE_CHECKING:
    from uuid import UUID

    from casemgmt.application.care_centre import CareCentre
    from casemgmt.domain import Case, Context

# Each attempt takes one case off the head of the queue, so this bounds the work of one claim.
MAX_CLAIM_ATTEMPTS: Final = 25


class TakenCase(Protocol):
    """A case taken off the head of a queue for a claim."""

    @property
    def case_id(self) -> UUID: ...


Taken = TypeVar("Taken", bound=TakenCase)


class WaitingCases(Protocol[Taken]):
    """The port to the work queues that claims need (`casemgmt.queries.WorkQueues` is one)."""

    def queue_names(self) -> list[str]: ...
    def has_queue(self, name: str) -> bool: ...
    def take_next(self, name: str) -> Taken | None: ...
    def let_go(self, taken: Taken, /) -> None: ...
    def put_back(self, taken: Taken, /) -> None: ...


class Claims(Generic[Taken]):
    """Claims the next case of a queue for the caller."""

    def __init__(self, care_centre: CareCentre, queues: WaitingCases[Taken]) -> None:
        self.care_centre = care_centre
        self.queues = queues

    def claim_next(self, queue: str, ctx: Context) -> Case | None:
        """Assigns the next waiting case of `queue` to the caller; None when none waits."""
        authorize(ctx.actor, "claim")
        if ctx.actor.on_behalf_of is not None:
            # Refused before a case is taken off the queue: whose case comes next is not known,
            # so no requester can be named for it (the assignment would be refused half-way).
            raise Forbidden(
                ctx.actor,
                "claim",
                "a claim takes whichever case is next, so X-On-Behalf-Of cannot name its "
                "requester; claim without it",
            )
        if not self.queues.has_queue(queue):
            raise QueueNotFound(queue, self.queues.queue_names())
        for _ in range(MAX_CLAIM_ATTEMPTS):
            taken = self.queues.take_next(queue)
            if taken is None:
                return None
            case, still_waiting = self._assign(taken.case_id, ctx)
            if case is not None or not still_waiting:
                self.queues.let_go(taken)  # assigned, or taken or closed meanwhile
                if case is not None:
                    return case
            else:
                self.queues.put_back(taken)  # lost a race that left it waiting: back in line
        return None

    def _assign(self, case_id: UUID, ctx: Context) -> tuple[Case | None, bool]:
        """The case assigned to the caller, else None and whether the case still waits."""
        case = self.care_centre.find_case(case_id)
        if case is None or not case.waits_for_agent:
            return None, False
        try:
            # Assigned as just loaded: a change saved meanwhile fails the save's version check.
            assigned = self.care_centre.act_on_loaded(case, Action.ASSIGN, ctx, agent=ctx.actor.id)
        except (ConcurrentUpdate, StaleVersion, ActionNotAllowed, InvalidCommand, Forbidden):
            # Forbidden: someone took it meanwhile, and it is not the caller's to take from them.
            now = self.care_centre.find_case(case_id)
            return None, now is not None and now.waits_for_agent
        return assigned, False
