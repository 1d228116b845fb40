"""Active care: dialogue conferences and policy Q&A sessions the centre holds for the public.

A session is scheduled (when, by which unit, on what topic, about which insurance line), then
recorded as held with its attendance; each question raised there becomes an in-person case, which
records the session it came from (`Case.LinkedToSession`) while the session lists its cases.
Every event says who, how and in which request (rule 3), as a case's do.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Final
from uuid import UUID

from eventsourcing.domain import Aggregate

from casemgmt.domain.requests import InsuranceLine
from casemgmt.domain.validation import (
    InvalidCommand,
    optional_text,
    require_aware,
    require_member,
    require_text,
)

if TYPE_CHECKING:
    from casemgmt.domain.actors import Context

# A session recorded as held a little ahead of the recorder's clock is a clock running fast.
CLOCK_SKEW_ALLOWANCE: Final = timedelta(minutes=5)
MAX_ATTENDANCE: Final = 1_000_000


class SessionKind(StrEnum):
    """Dialogue conferences (with employers, workers, a community) and policy Q&A sessions."""

    CONFERENCE = "conference"
    QA = "qa"


class SessionStatus(StrEnum):
    SCHEDULED = "scheduled"
    HELD = "held"


class SessionNotHeld(Exception):  # noqa: N818 -- names read as what happened
    """The session cannot take this yet, or any more (the API answers 409 with its status)."""

    def __init__(self, session_id: UUID, status: SessionStatus, message: str) -> None:
        super().__init__(f"session {session_id} is {status.value}: {message}")
        self.session_id = session_id
        self.status = status


class CareSession(Aggregate):
    """One conference or Q&A session: scheduled, held with its attendance, and its questions."""

    class Event(Aggregate.Event):
        actor: dict[str, Any]
        cause: str
        correlation_id: str

    class Scheduled(Event, Aggregate.Created):
        kind: str
        topic: str
        unit: str
        line: str | None
        scheduled_for: datetime
        place: str | None

    class Held(Event):
        held_at: datetime
        attendance: int

        def apply(self, session: CareSession) -> None:
            session.status = SessionStatus.HELD
            session.held_at = self.held_at
            session.attendance = self.attendance

    class QuestionRecorded(Event):
        case_id: UUID
        reference: str

        def apply(self, session: CareSession) -> None:
            session.questions.append((self.case_id, self.reference))

    def __init__(
        self,
        *,
        kind: str,
        topic: str,
        unit: str,
        line: str | None,
        scheduled_for: datetime,
        place: str | None,
    ) -> None:
        """Called with the attributes of the `Scheduled` event, never directly: use `schedule`."""
        self.kind = SessionKind(kind)
        self.topic = topic
        self.unit = unit
        self.line = None if line is None else InsuranceLine(line)
        self.scheduled_for = scheduled_for
        self.place = place
        self.status = SessionStatus.SCHEDULED
        self.held_at: datetime | None = None
        self.attendance: int | None = None
        self.questions: list[tuple[UUID, str]] = []  # (case id, case reference), in order

    @classmethod
    def schedule(
        cls,
        *,
        id: UUID,
        kind: SessionKind,
        topic: str,
        unit: str,
        scheduled_for: datetime,
        ctx: Context,
        line: InsuranceLine | None = None,
        place: str | None = None,
    ) -> CareSession:
        """Schedules a session of `unit` (a unit of the taxonomy, checked by the application)."""
        return cls._create(
            cls.Scheduled,
            id=id,
            **_about(ctx),
            kind=require_member(SessionKind, "kind", kind).value,
            topic=require_text("topic", topic),
            unit=require_text("unit", unit),
            line=None if line is None else require_member(InsuranceLine, "line", line).value,
            scheduled_for=require_aware("scheduled_for", scheduled_for),
            place=optional_text("place", place),
        )

    def record_held(self, attendance: int, held_at: datetime | None, ctx: Context) -> None:
        """Records that the session took place (at `held_at`, default `ctx.at`) and who came."""
        self.check_scheduled()
        self.check_attendance(attendance)
        held_at = require_aware("held_at", held_at or ctx.at)
        if held_at > ctx.at + CLOCK_SKEW_ALLOWANCE:
            raise InvalidCommand("held_at", "must not be in the future")
        self.trigger_event(self.Held, **_about(ctx), held_at=held_at, attendance=attendance)

    def record_question(self, case_id: UUID, reference: str, ctx: Context) -> None:
        """Lists the case opened for a question raised at the session (once per case)."""
        self.check_held()
        if any(known == case_id for known, _ in self.questions):
            return
        reference = require_text("reference", reference)
        self.trigger_event(
            self.QuestionRecorded, **_about(ctx), case_id=case_id, reference=reference
        )

    @property
    def case_ids(self) -> list[UUID]:
        return [case_id for case_id, _ in self.questions]

    # -- invariants -----------------------------------------------------------------------------

    def check_scheduled(self) -> None:
        if self.status is not SessionStatus.SCHEDULED:
            when = "" if self.held_at is None else f" at {self.held_at.isoformat()}"
            raise SessionNotHeld(self.id, self.status, f"it was already recorded as held{when}")

    def check_held(self) -> None:
        if self.status is not SessionStatus.HELD:
            message = "questions are recorded once the session is recorded as held"
            raise SessionNotHeld(self.id, self.status, message)

    @staticmethod
    def check_attendance(attendance: int) -> None:
        if (
            isinstance(attendance, bool)
            or not isinstance(attendance, int)
            or not 0 <= attendance <= MAX_ATTENDANCE
        ):
            raise InvalidCommand("attendance", f"must be a whole number from 0 to {MAX_ATTENDANCE}")


def _about(ctx: Context) -> dict[str, Any]:
    return {
        "timestamp": ctx.at,
        "actor": ctx.actor.as_dict(),
        "cause": ctx.cause,
        "correlation_id": ctx.correlation_id,
    }
