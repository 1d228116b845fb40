"""Shared ground for the active-care report tests (no tests of its own): conferences and Q&A
sessions told through `CareSessions` (scheduled, held, questions raised as linked cases), and the
active-care figures recomputed from the sessions' and the cases' events alone."""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Final
from uuid import UUID

from casemgmt.domain import (
    Actor,
    Case,
    Context,
    InsuranceLine,
    Requester,
    RequesterKind,
    Role,
)
from casemgmt.domain.sessions import CareSession, SessionKind

if TYPE_CHECKING:
    from casemgmt.application import CareCentre
    from casemgmt.application.sessions import CareSessions
    from casemgmt.queries.reports import Period

T0: Final = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)  # a Monday, 08:00 in Hanoi
SUPERVISOR: Final = Actor("sup.active-care", Role.SUPERVISOR)
AGENT: Final = Actor("lan.nguyen", Role.AGENT)
# Who raised a question at a session, by the session's name and the question's number.
ASKED_BY: Final = "0381234567"


def d(days: float) -> datetime:
    return T0 + timedelta(days=days)


class Sessions:
    """Sessions told step by step through `CareSessions`, each step at the moment given."""

    def __init__(self, care_sessions: CareSessions) -> None:
        self.care_sessions = care_sessions
        self.ids: dict[str, UUID] = {}

    def schedule(
        self, name: str, kind: SessionKind, unit: str, line: InsuranceLine | None, at: datetime
    ) -> None:
        session = self.care_sessions.schedule(
            kind=kind,
            topic=f"Đối thoại chính sách: {name}",
            unit=unit,
            line=line,
            scheduled_for=at,
            place="Nhà văn hoá",
            ctx=_ctx(SUPERVISOR, at - timedelta(days=14)),
        )
        self.ids[name] = session.id

    def held(self, name: str, attendance: int) -> datetime:
        at = self._planned(name) + timedelta(hours=2)
        self.care_sessions.record_held(
            self.ids[name], attendance=attendance, ctx=_ctx(SUPERVISOR, at)
        )
        return at

    def questions(self, name: str, count: int, *, requester: str = ASKED_BY) -> list[UUID]:
        """`count` questions raised at the session, each sent twice (a retry): one case each."""
        at = self._planned(name) + timedelta(hours=3)
        cases = []
        for number in range(count):
            for _ in range(2):
                _, case, _ = self.care_sessions.raise_question(
                    self.ids[name],
                    subject=f"Câu hỏi {number + 1} tại {name}",
                    requester=Requester(RequesterKind.CITIZEN, requester, "Lê Thị Hoa"),
                    question_ref=f"{name}-{number}",
                    ctx=_ctx(AGENT, at),
                )
            cases.append(case.id)
        return cases

    def _planned(self, name: str) -> datetime:
        return self.care_sessions.get_session(self.ids[name]).scheduled_for


def _ctx(actor: Actor, at: datetime) -> Context:
    return Context(actor, at, str(uuid.uuid4()), "api")


def tell(sessions: Sessions) -> None:
    """The sessions the tests know the figures of (see tests/integration/test_active_care.py):
    four units, the three lines and none, both kinds, held and not, before, in and after the
    period `[T0, T0 + 30 days)`."""
    s = sessions
    s.schedule("hanoi_conference", SessionKind.CONFERENCE, "hanoi", InsuranceLine.SOCIAL, d(1))
    s.held("hanoi_conference", 120)
    s.questions("hanoi_conference", 3)
    s.schedule("hanoi_qa", SessionKind.QA, "hanoi", InsuranceLine.HEALTH, d(3))
    s.held("hanoi_qa", 45)
    s.questions("hanoi_qa", 1, requester="0912000111")
    s.schedule("hue_conference", SessionKind.CONFERENCE, "hue", None, d(5))
    s.held("hue_conference", 80)  # nobody asked anything
    s.schedule("thanhhoa_qa", SessionKind.QA, "thanhhoa", InsuranceLine.UNEMPLOYMENT, d(8))
    s.schedule("danang_qa", SessionKind.QA, "danang", InsuranceLine.SOCIAL, d(10))
    s.held("danang_qa", 30)
    s.questions("danang_qa", 2, requester="0912000222")
    s.schedule("before", SessionKind.CONFERENCE, "hanoi", InsuranceLine.SOCIAL, d(-3))
    s.held("before", 500)
    s.questions("before", 1, requester="0912000333")
    s.schedule("after", SessionKind.QA, "hue", InsuranceLine.HEALTH, d(40))


# -- the figures, recomputed from the events -----------------------------------------------------


@dataclass
class Facts:
    """What the reports count of one session, from the events alone."""

    kind: str
    unit: str
    line: str | None
    scheduled_for: datetime
    held: bool = False
    attendance: int = 0
    questions: int = 0


def session_facts(care_sessions: CareSessions) -> dict[UUID, Facts]:
    """Every session of the sessions' own log, folded by hand from its events."""
    facts: dict[UUID, Facts] = {}
    for notification in care_sessions.recorder.select_notifications(1, 1_000_000):
        event = care_sessions.mapper.to_domain_event(notification)
        if isinstance(event, CareSession.Scheduled):
            facts[event.originator_id] = Facts(
                event.kind, event.unit, event.line, event.scheduled_for
            )
        elif isinstance(event, CareSession.Held):
            session = facts[event.originator_id]
            session.held, session.attendance = True, event.attendance
        elif isinstance(event, CareSession.QuestionRecorded):
            facts[event.originator_id].questions += 1
    return facts


def linked_cases(care_centre: CareCentre) -> dict[UUID, int]:
    """How many cases the cases' own log links to each session (`Case.LinkedToSession`)."""
    linked: dict[UUID, set[UUID]] = defaultdict(set)
    for notification in care_centre.recorder.select_notifications(1, 1_000_000):
        event = care_centre.mapper.to_domain_event(notification)
        if isinstance(event, Case.LinkedToSession):
            linked[event.session_id].add(event.originator_id)
    return {session_id: len(cases) for session_id, cases in linked.items()}


def figures(sessions: list[Facts]) -> dict[str, int]:
    held = [s for s in sessions if s.held]
    return {
        "scheduled": len(sessions),
        "held": len(held),
        "attendance": sum(s.attendance for s in held),
        "questions_raised": sum(s.questions for s in sessions),
    }


def recomputed(facts: dict[UUID, Facts], period: Period) -> dict[str, Any]:
    """The `active_care` block of the period, from the sessions' events."""
    chosen = [f for f in facts.values() if period.start <= f.scheduled_for < period.end]
    answer: dict[str, Any] = figures(chosen)
    for key in ("kind", "unit", "line"):
        groups: dict[str | None, list[Facts]] = defaultdict(list)
        for session in chosen:
            groups[getattr(session, key)].append(session)
        answer[f"by_{key}"] = [
            {key: name, **figures(groups[name])}
            for name in sorted(groups, key=lambda name: (name is None, name or ""))
        ]
    return answer
