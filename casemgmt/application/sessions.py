"""Active care: scheduling conferences and Q&A sessions, recording them, and their questions.

`CareSessions` is an eventsourcing application of its own (its events in `caresessions_events`,
migration 0013) beside `CareCentre`, whose `open_case` it calls for each question raised at a
session: the case is opened on the in-person channel by the centre's active-care intake (actor
`active-care`, role `system`, cause `session:<id>`), then records the session
(`Case.LinkedToSession`, by the person who recorded the question) and the session lists the case.
The case's `external_ref` is made from the session and the question's own reference, so a
question sent again (a retry after a lost answer) finds its case and completes whatever step
was missing instead of opening a second one.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any, Final, cast
from uuid import UUID, uuid4

from eventsourcing.application import AggregateNotFoundError, Application, project_aggregate
from eventsourcing.persistence import IntegrityError

from casemgmt.application.authorization import authorize
from casemgmt.application.errors import ConcurrentUpdate
from casemgmt.domain import Actor, Case, Category, Channel, Priority, Role
from casemgmt.domain.sessions import CareSession, SessionKind, SessionStatus

if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import datetime

    from eventsourcing.utils import EnvType

    from casemgmt.application.care_centre import CareCentre
    from casemgmt.domain import Context, InsuranceLine, Requester
    from casemgmt.domain.taxonomy import Taxonomy

# Who opens the cases of questions raised at sessions: the centre's own active-care intake.
ACTIVE_CARE: Final = "active-care"
_ATTEMPTS: Final = 3
_PAGE: Final = 1000


class SessionNotFound(LookupError):  # noqa: N818 -- names read as what happened
    """No session has this id (the API answers 404)."""

    def __init__(self, session_id: UUID) -> None:
        super().__init__(f"session {session_id} not found")
        self.session_id = session_id


class CareSessions(Application[UUID]):
    """Dialogue conferences and policy Q&A sessions, and the cases of the questions raised."""

    name = "CareSessions"

    def __init__(
        self,
        env: EnvType | None = None,
        *,
        care_centre: CareCentre,
        taxonomy: Taxonomy | None = None,
        new_id: Callable[[], UUID] = uuid4,
    ) -> None:
        super().__init__(env)
        self.care_centre = care_centre
        self.taxonomy = taxonomy  # None: any unit (bootstrap always gives the policy's)
        self.new_id = new_id

    def schedule(
        self,
        *,
        kind: SessionKind,
        topic: str,
        unit: str,
        scheduled_for: datetime,
        ctx: Context,
        line: InsuranceLine | None = None,
        place: str | None = None,
    ) -> CareSession:
        """Schedules a conference or Q&A session of a unit of the taxonomy."""
        authorize(ctx.actor, "schedule-session")
        if self.taxonomy is not None:
            self.taxonomy.check_unit("unit", unit)
        session = CareSession.schedule(
            id=self.new_id(),
            kind=kind,
            topic=topic,
            unit=unit,
            line=line,
            scheduled_for=scheduled_for,
            place=place,
            ctx=ctx,
        )
        self.save(session)
        return session

    def record_held(
        self,
        session_id: UUID,
        *,
        attendance: int,
        ctx: Context,
        held_at: datetime | None = None,
    ) -> CareSession:
        """Records that the session was held, and its attendance."""
        authorize(ctx.actor, "record-session")
        for attempt in range(1, _ATTEMPTS + 1):
            session = self.get_session(session_id)
            session.record_held(attendance, held_at, ctx)
            if self._saved(session, last=attempt == _ATTEMPTS):
                return session
        raise AssertionError("unreachable")  # pragma: no cover

    def raise_question(
        self,
        session_id: UUID,
        *,
        subject: str,
        requester: Requester,
        ctx: Context,
        body: str | None = None,
        category: Category | None = None,
        priority: Priority = Priority.NORMAL,
        unit: str | None = None,
        question_ref: str | None = None,
    ) -> tuple[CareSession, Case, bool]:
        """Opens an in-person case for a question raised at a held session and links the two.

        Returns the session, the case and whether the case was opened now. With the same
        `question_ref`, a retry finds the case it opened and completes the links.
        """
        authorize(ctx.actor, "raise-question")
        session = self.get_session(session_id)
        session.check_held()
        assert session.held_at is not None
        intake = replace(ctx, actor=Actor(ACTIVE_CARE, Role.SYSTEM), cause=f"session:{session.id}")
        case, created = self.care_centre.open_case(
            channel=Channel.IN_PERSON,
            external_ref=f"session:{session.id}:{question_ref or uuid4().hex}",
            subject=subject,
            body=body,
            requester=requester,
            category=_category_of(category, session),
            priority=priority,
            unit=unit or session.unit,
            received_at=min(session.held_at, ctx.at),
            ctx=intake,
        )
        case = self._link(case, session.id, ctx)
        return self._listed(session, case, ctx), case, created

    def _link(self, case: Case, session_id: UUID, ctx: Context) -> Case:
        for attempt in range(1, _ATTEMPTS + 1):
            if case.session_id == session_id:
                return case
            case.link_to_session(session_id, ctx)
            try:
                self.care_centre.save(case)
            except IntegrityError:  # the case moved on meanwhile: link it as it is now
                if attempt == _ATTEMPTS:
                    raise ConcurrentUpdate(case.id, self.care_centre.find_case(case.id)) from None
                case = self.care_centre.get_case(case.id)
                continue
            return case
        raise AssertionError("unreachable")  # pragma: no cover

    def _listed(self, session: CareSession, case: Case, ctx: Context) -> CareSession:
        for attempt in range(1, _ATTEMPTS + 1):
            session.record_question(case.id, case.reference, ctx)
            if not session.pending_events or self._saved(session, last=attempt == _ATTEMPTS):
                return session
            session = self.get_session(session.id)
        raise AssertionError("unreachable")  # pragma: no cover

    def _saved(self, session: CareSession, *, last: bool) -> bool:
        """Saves the session; False when another write won and the caller may try again."""
        try:
            self.save(session)
        except IntegrityError:
            if last:
                raise SessionConflict(session.id) from None
            return False
        return True

    # -- reading --------------------------------------------------------------------------------

    def get_session(self, session_id: UUID) -> CareSession:
        try:
            return cast("CareSession", self.repository.get(session_id))
        except AggregateNotFoundError:
            raise SessionNotFound(session_id) from None

    def read_session(self, session_id: UUID, actor: Actor) -> CareSession:
        authorize(actor, "read-sessions")
        return self.get_session(session_id)

    def list_sessions(self, actor: Actor, **filters: Any) -> list[CareSession]:
        """The sessions that match every filter given (`kind`, `unit`, `line`, `status`, and
        `scheduled_from`/`scheduled_to` bounds), soonest scheduled first.

        Sessions are few (a centre holds some a week per province): they are read from their
        own event store in pages and folded here, with no read table to keep.
        """
        authorize(actor, "read-sessions")
        return sorted(
            (s for s in self.all_sessions() if _matches(s, **filters)),
            key=lambda s: (s.scheduled_for, str(s.id)),
        )

    def all_sessions(self) -> list[CareSession]:
        """Every session as it is now, folded from the session event log."""
        events: dict[UUID, list[Any]] = {}
        start = 1
        while True:
            page = self.recorder.select_notifications(start=start, limit=_PAGE)
            for notification in page:
                event = self.mapper.to_domain_event(notification)
                events.setdefault(event.originator_id, []).append(event)
            if len(page) < _PAGE:
                break
            start = page[-1].id + 1
        folded = (project_aggregate(None, history) for history in events.values())
        return [cast("CareSession", session) for session in folded if session is not None]


class SessionConflict(Exception):  # noqa: N818 -- names read as what happened
    """Another write to the session won every try (the API answers 409); nothing was saved."""

    def __init__(self, session_id: UUID) -> None:
        super().__init__(f"session {session_id} was changed by another request meanwhile")
        self.session_id = session_id


def _category_of(category: Category | None, session: CareSession) -> Category | None:
    """The question's category; without a line, the session's insurance line."""
    if category is not None and category.line is not None:
        return category
    if session.line is None:
        return category
    return Category(session.line, None if category is None else category.kind)


def _matches(
    session: CareSession,
    *,
    kind: list[SessionKind] | None = None,
    unit: list[str] | None = None,
    line: list[str] | None = None,
    status: list[SessionStatus] | None = None,
    scheduled_from: datetime | None = None,
    scheduled_to: datetime | None = None,
) -> bool:
    return (
        (not kind or session.kind in kind)
        and (not unit or session.unit in unit)
        and (not line or (session.line is not None and session.line.value in line))
        and (not status or session.status in status)
        and (scheduled_from is None or session.scheduled_for >= scheduled_from)
        and (scheduled_to is None or session.scheduled_for < scheduled_to)
    )
