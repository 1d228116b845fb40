"""Shared ground for the improvement analysis tests (no tests of its own): stories told through
the care centre's own commands, and the analysis recomputed from the cases' events alone.

Over 300 lines: the stories and the recomputation of every figure are one piece, kept out of the
test module so that its tests read as the behaviours they check.
"""

from __future__ import annotations

import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Final

from casemgmt.domain import (
    Action,
    Actor,
    Case,
    Category,
    Channel,
    Context,
    InsuranceLine,
    Priority,
    Requester,
    RequesterKind,
    Role,
)
from casemgmt.domain.sla import ClockName, clock_from_dict
from casemgmt.queries.analysis import MOST_LOOPS, MOST_TERMS, bands
from casemgmt.readmodels.subject_terms import subject_terms
from tests.support import active_care

if TYPE_CHECKING:
    from collections.abc import Callable
    from uuid import UUID

    from casemgmt.application import CareCentre
    from casemgmt.application.sessions import CareSessions
    from casemgmt.domain.calendar import BusinessCalendar
    from casemgmt.domain.sla_policy import SlaPolicy
    from casemgmt.queries.reports import Period

# Hanoi works office hours; Hai Phong's harbour office works longer days in UTC, Saturdays too,
# so a stretch there counts differently from one in Hanoi. Urgent cases breach within hours.
POLICY: Final = """
version = "test-analysis-1"
warning_at = 0.5

[calendars.office]
timezone = "Asia/Ho_Chi_Minh"
[calendars.office.hours]
mon = ["07:30-11:30", "13:00-16:30"]
tue = ["07:30-11:30", "13:00-16:30"]
wed = ["07:30-11:30", "13:00-16:30"]
thu = ["07:30-11:30", "13:00-16:30"]
fri = ["07:30-11:30", "13:00-16:30"]

[calendars.harbour]
timezone = "UTC"
[calendars.harbour.hours]
mon = ["06:00-14:00"]
tue = ["06:00-14:00"]
wed = ["06:00-14:00"]
thu = ["06:00-14:00"]
fri = ["06:00-14:00"]
sat = ["06:00-10:00"]

[units]
default = "office"
haiphong = "harbour"

[[targets]]
priority = "urgent"
first_response = "PT1H"
resolution = "PT2H"

[[targets]]
first_response = "PT8H"
resolution = "P5D"
"""
T0: Final = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)  # a Monday, 08:00 in Hanoi
OPEN: Final = ("received", "triaged", "in_progress", "awaiting_citizen")
INTAKE: Final = Actor("switchboard", Role.INTAKE)
SUPERVISOR: Final = Actor("sup.analysis", Role.SUPERVISOR)
TIMER: Final = Actor("sla-timer", Role.SYSTEM)


def h(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def d(days: float) -> datetime:
    return T0 + timedelta(days=days)


class Stories:
    """Cases told step by step through `CareCentre`, each step at the moment given."""

    def __init__(self, care_centre: CareCentre) -> None:
        self.care_centre = care_centre
        self.ids: dict[str, UUID] = {}

    def receive(
        self, name: str, at: datetime, subject: str, requester: str | None, unit: str | None
    ) -> UUID:
        who = Requester(RequesterKind.CITIZEN, requester, "Nguyễn Thị Hỏi")
        case, _ = self.care_centre.open_case(
            channel=Channel.PHONE,
            subject=subject,
            requester=who,
            unit=unit,
            received_at=at,
            ctx=Context(INTAKE, at, str(uuid.uuid4()), "api"),
        )
        self.ids[name] = case.id
        return case.id

    def act(self, name: str, at: datetime, action: Action, **body: Any) -> None:
        ctx = Context(SUPERVISOR, at, str(uuid.uuid4()), "api")
        self.care_centre.act(self.ids[name], action, ctx, **body)

    def triage(self, name: str, at: datetime, kind: str, priority: str = "normal") -> None:
        category = Category(InsuranceLine.SOCIAL, kind)
        self.act(name, at, Action.TRIAGE, category=category, priority=Priority(priority))

    def timer(self, name: str, at: datetime) -> int:
        """What the SLA timer does at `at`: records the alarms due."""
        ctx = Context(TIMER, at, str(uuid.uuid4()), "timer:sla")
        return self.care_centre.check_sla(self.ids[name], ctx)

    def worked(self, name: str, start: datetime, agent: str = "lan.nguyen") -> None:
        """Assigned and answered, a minute apart."""
        self.act(name, start, Action.ASSIGN, agent=agent)
        self.act(name, start + timedelta(minutes=1), Action.REPLY, message="Đang kiểm tra.")


def tell(stories: Stories) -> None:  # noqa: PLR0915 -- one story after the other reads best
    """The stories the tests know the figures of (see tests/integration/test_analysis.py)."""
    s, act = stories, stories.act
    # Two cases go Hanoi → Hai Phong → Hanoi; the second one's subject is typed without marks.
    s.receive("loop_a", h(0), "Chưa nhận được lương hưu tháng 10", "0100000001", None)
    s.triage("loop_a", h(1), "benefit_status")
    act("loop_a", h(1.5), Action.TRANSFER, unit="hanoi", reason="Theo địa bàn")
    s.worked("loop_a", h(2))
    act("loop_a", h(9), Action.TRANSFER, unit="haiphong", reason="Hồ sơ ở Hải Phòng")
    act("loop_a", h(10), Action.ASSIGN, agent="binh.le")
    act("loop_a", h(12), Action.TRANSFER, unit="hanoi", reason="Trả lại Hà Nội")
    act("loop_a", h(13), Action.ASSIGN, agent="lan.nguyen")
    act("loop_a", h(26), Action.RESOLVE, resolution="Đã chi trả")
    act("loop_a", h(27), Action.FEEDBACK, score=5)
    s.receive("loop_b", h(24), "chua nhan duoc luong huu", "0100000002", "hanoi")
    s.triage("loop_b", h(25), "benefit_status")
    act("loop_b", h(26), Action.TRANSFER, unit="haiphong", reason="Hồ sơ ở Hải Phòng")
    act("loop_b", h(28), Action.TRANSFER, unit="hanoi", reason="Trả lại Hà Nội")
    # Đà Nẵng → Huế → Đà Nẵng → Hà Nội: its first loop is Đà Nẵng's.
    s.receive("loop_c", h(2), "Khiếu nại về thời gian giải quyết hồ sơ", "0100000003", "danang")
    s.triage("loop_c", h(3), "complaint", "high")
    act("loop_c", h(4), Action.TRANSFER, unit="hue", reason="Thuộc Huế")
    act("loop_c", h(30), Action.TRANSFER, unit="danang", reason="Thuộc Đà Nẵng")
    act("loop_c", h(31), Action.TRANSFER, unit="hanoi", reason="Thuộc Hà Nội")
    s.worked("loop_c", h(32), "mai.tran")
    act("loop_c", h(34), Action.RESOLVE, resolution="Đã giải thích")
    act("loop_c", h(35), Action.FEEDBACK, score=1)
    # Asked for information, answered two days later, resolved, rated, reopened and rated again.
    s.receive("reopened", h(3), "Thẻ bảo hiểm y tế bị sai ngày sinh", "0100000004", "hanoi")
    s.triage("reopened", h(4), "procedure")
    s.worked("reopened", h(5))
    act("reopened", h(7), Action.REQUEST_INFO, message="Xin gửi bản chụp CCCD.")
    act("reopened", h(50), Action.CITIZEN_MESSAGE, message="Đã gửi.")
    act("reopened", h(51), Action.RESOLVE, resolution="Đã điều chỉnh")
    act("reopened", h(52), Action.FEEDBACK, score=2)
    act("reopened", h(53), Action.REOPEN, reason="Thẻ mới vẫn sai")
    act("reopened", h(54), Action.RESOLVE, resolution="Đã cấp lại thẻ")
    act("reopened", h(55), Action.FEEDBACK, score=3)
    # Urgent: the timer records both clocks' breaches in Hanoi; then Hai Phong resolves it.
    s.receive(
        "timer_breach", h(0.5), "Trợ cấp thất nghiệp chưa được chi trả", "0100000005", "hanoi"
    )
    s.triage("timer_breach", h(0.6), "benefit_status", "urgent")
    assert s.timer("timer_breach", h(4)) >= 2
    act("timer_breach", h(5), Action.TRANSFER, unit="haiphong", reason="Hồ sơ ở Hải Phòng")
    s.worked("timer_breach", h(6), "binh.le")
    act("timer_breach", h(8), Action.RESOLVE, resolution="Đã chi trả")
    # Urgent in Hai Phong, answered and resolved late with no timer running: stopped late.
    s.receive(
        "late_stop", h(5), "Hỏi về mức đóng bảo hiểm xã hội tự nguyện", "0100000006", "haiphong"
    )
    s.triage("late_stop", h(5.1), "contribution", "urgent")
    s.worked("late_stop", h(7), "binh.le")
    act("late_stop", h(7.5), Action.RESOLVE, resolution="Đã hướng dẫn")
    act("late_stop", h(8), Action.FEEDBACK, score=4)
    # One requester, one category: ten days apart (a repeat), then 38 days later (none); the
    # same requester on another category is no repeat either.
    for name, at, kind in (
        ("repeat_first", d(2), "contribution"),
        ("repeat_again", d(12), "contribution"),
        ("other_kind", d(13), "procedure"),
        ("repeat_late", d(50), "contribution"),
    ):
        s.receive(name, at, "Xác nhận quá trình đóng bảo hiểm", "0100000007", "hanoi")
        s.triage(name, at + timedelta(hours=1), kind)
    # A repeat whose earlier case was received before the period.
    for name, at in (("before_period", d(-5)), ("repeat_of_older", d(20))):
        s.receive(name, at, "Xin cấp lại sổ BHXH", "0100000009", "hue")
        s.triage(name, at + timedelta(hours=1), "contribution")
    for name, at in (("anonymous_1", d(3)), ("anonymous_2", d(4))):  # nobody's repeat
        s.receive(name, at, "Hỏi mức đóng bảo hiểm tự nguyện", None, "hanoi")
        s.triage(name, at + timedelta(hours=1), "contribution")
    # Resolved within the hour and rated 4; its duplicate, sent ten minutes later, merged into it.
    s.receive("quick", d(1), "Đăng ký khám chữa bệnh ban đầu", "0100000010", "hanoi")
    s.triage("quick", d(1) + timedelta(minutes=5), "policy_question")
    s.receive(
        "duplicate", d(1) + timedelta(minutes=10), "Đăng ký KCB ban đầu", "0100000010", "hanoi"
    )
    s.triage("duplicate", d(1) + timedelta(minutes=12), "policy_question")
    s.worked("quick", d(1) + timedelta(minutes=15))
    act("duplicate", d(1) + timedelta(minutes=20), Action.MERGE, into=s.ids["quick"])
    act("quick", d(1) + timedelta(minutes=30), Action.RESOLVE, resolution="Đã đăng ký")
    act("quick", d(1) + timedelta(minutes=40), Action.FEEDBACK, score=4)
    # Resolved after its five working days (stopped late in Hanoi) and rated 1.
    s.receive("slow", d(3), "Xin cấp lại sổ BHXH bị mất", "0100000011", "hanoi")
    s.triage("slow", d(3) + timedelta(hours=1), "procedure")
    s.worked("slow", d(3) + timedelta(hours=2))
    act("slow", d(11), Action.RESOLVE, resolution="Đã cấp lại")
    act("slow", d(11) + timedelta(hours=1), Action.FEEDBACK, score=1)


# -- the analysis, recomputed from the events ----------------------------------------------------


@dataclass
class Facts:
    """What the analysis counts of one case, from its events alone."""

    case_id: UUID
    received_at: datetime
    requester: str | None
    subject: str | None
    category: str | None = None
    status: str = "received"
    reopened: bool = False
    score: int | None = None
    units: list[str | None] = field(default_factory=list)
    stretches: list[tuple[str, str | None, float]] = field(default_factory=list)  # seconds
    breached_at: set[str | None] = field(default_factory=set)  # units

    @property
    def open_seconds(self) -> float:
        return sum(seconds for _, _, seconds in self.stretches)

    @property
    def loop(self) -> list[str] | None:
        """The first return to a unit left before, found the long way."""
        path = [unit for unit in self.units if unit is not None]
        for end in range(len(path)):
            for start in range(end):
                if path[start] == path[end]:
                    return path[start : end + 1]
        return None


def calendar(policy: SlaPolicy, unit: str | None) -> BusinessCalendar:
    name = policy.unit_calendars.get(unit or "", policy.default_calendar)
    return policy.calendars[name]


def facts_of(events: list[Case.Event], policy: SlaPolicy) -> Facts:
    received = events[0]
    assert isinstance(received, Case.Received)
    facts = Facts(
        received.originator_id,
        received.received_at,
        received.requester.get("id"),
        received.subject,
        received.category.get("kind"),
        units=[received.unit],
    )
    status, unit, since = received.status, received.unit, received.received_at
    for event in events[1:]:
        moved = event.unit if isinstance(event, Case.Triaged | Case.Transferred) else unit
        if (event.status, moved) != (status, unit):
            if status in OPEN:
                worked = calendar(policy, unit).working_time_between(since, event.timestamp)
                facts.stretches.append((status, unit, worked / timedelta(seconds=1)))
            status, unit, since = event.status, moved, event.timestamp
            if facts.units[-1] != unit:
                facts.units.append(unit)
        if isinstance(event, Case.Triaged):
            facts.category = event.category.get("kind")
        elif isinstance(event, Case.Reopened):
            facts.reopened = True
        elif isinstance(event, Case.FeedbackRecorded):
            facts.score = event.score
        elif isinstance(event, Case.RequesterErased):
            facts.requester = facts.subject = None
        elif isinstance(event, Case.SlaBreached):
            facts.breached_at.add(unit)
        elif isinstance(event, Case.SlaClockStopped):
            clock = clock_from_dict(event.state)
            merged = status == "merged" and clock.name is ClockName.RESOLUTION
            assert clock.stopped_at is not None
            if not merged and not clock.breached and clock.stopped_at > clock.due:
                facts.breached_at.add(unit)
    facts.status = status
    return facts


def share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def last(name: str | None) -> tuple[bool, str]:
    return (name is None, name or "")


def recomputed(
    care_centre: CareCentre,
    case_ids: list[UUID],
    period: Period,
    policy: SlaPolicy,
    care_sessions: CareSessions,
) -> dict[str, Any]:
    """The analysis of the period, from every case's history and every session's."""
    every = [facts_of(care_centre.history(case_id), policy) for case_id in case_ids]
    cohort = [f for f in every if period.start <= f.received_at < period.end]
    categories: dict[str | None, list[Facts]] = defaultdict(list)
    for facts in cohort:
        categories[facts.category].append(facts)
    looped = [f for f in cohort if f.loop is not None]
    loops = Counter(tuple(f.loop or ()) for f in looped)
    return {
        "from": period.start.isoformat(),
        "to": period.end.isoformat(),
        "tz": period.timezone,
        "cases": len(cohort),
        "time_in_state": time_in_state(cohort),
        "transfer_loops": {
            "cases": len(looped),
            "rate": share(len(looped), len(cohort)),
            "loops": [
                {"units": list(units), "cases": n}
                for units, n in sorted(loops.items(), key=lambda i: (-i[1], i[0]))[:MOST_LOOPS]
            ],
        },
        "reopen": counted(cohort, categories, lambda f: f.reopened),
        "repeat_contacts": counted(cohort, categories, lambda f: is_repeat(f, every)),
        "subject_terms": terms(categories),
        "breaches": {
            "by_unit": breaches_by_unit(cohort),
            "by_category": breached(
                "category",
                {
                    c: (len(fs), sum(bool(f.breached_at) for f in fs))
                    for c, fs in categories.items()
                },
            ),
        },
        "satisfaction_by_resolution_time": satisfaction(cohort, policy),
        "active_care": active_care.recomputed(active_care.session_facts(care_sessions), period),
    }


def is_repeat(facts: Facts, every: list[Facts]) -> bool:
    if facts.requester is None or facts.category is None:
        return False
    return any(
        other.requester == facts.requester
        and other.category == facts.category
        and (other.received_at, other.case_id) < (facts.received_at, facts.case_id)
        and facts.received_at - other.received_at <= timedelta(days=30)
        for other in every
    )


def most_first(key: str, count: str, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The items with their rate, the highest count first, then rate, then name (none last)."""
    return sorted(items, key=lambda i: (-i[count], -(i["rate"] or 0.0), last(i[key])))


def counted(
    cohort: list[Facts], categories: dict[str | None, list[Facts]], test: Callable[[Facts], bool]
) -> dict[str, Any]:
    hits = [f for f in cohort if test(f)]
    by_category = []
    for category, in_category in categories.items():
        n = sum(test(f) for f in in_category)
        by_category.append({"category": category, "cases": n, "rate": share(n, len(in_category))})
    return {
        "cases": len(hits),
        "rate": share(len(hits), len(cohort)),
        "by_category": most_first("category", "cases", by_category),
    }


def time_in_state(cohort: list[Facts]) -> list[dict[str, Any]]:
    pairs: dict[tuple[str | None, str | None], dict[str, dict[UUID, float]]] = defaultdict(
        lambda: defaultdict(lambda: defaultdict(float))
    )
    for facts in cohort:
        for status, unit, seconds in facts.stretches:
            pairs[(facts.category, unit)][status][facts.case_id] += seconds
    answer = []
    for key in sorted(pairs, key=lambda k: (last(k[0]), last(k[1]))):
        spent = pairs[key]
        states = {
            s: {
                "cases": len(spent[s]),
                "total_seconds": sum(spent[s].values()),
                "mean_seconds": sum(spent[s].values()) / len(spent[s]),
            }
            for s in OPEN
            if s in spent
        }
        cases = {case_id for by_case in spent.values() for case_id in by_case}
        answer.append({"category": key[0], "unit": key[1], "cases": len(cases), "states": states})
    return answer


def terms(categories: dict[str | None, list[Facts]]) -> list[dict[str, Any]]:
    answer = []
    for category in sorted(categories, key=last):
        counts = Counter(t for f in categories[category] for t in subject_terms(f.subject))
        top = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:MOST_TERMS]
        if top:
            answer.append(
                {"category": category, "terms": [{"term": t, "count": n} for t, n in top]}
            )
    return answer


def breaches_by_unit(cohort: list[Facts]) -> list[dict[str, Any]]:
    held: Counter[str | None] = Counter(u for f in cohort for u in set(f.units))
    late: Counter[str | None] = Counter(u for f in cohort for u in f.breached_at)
    return breached("unit", {unit: (n, late[unit]) for unit, n in held.items()})


def breached(key: str, counts: dict[str | None, tuple[int, int]]) -> list[dict[str, Any]]:
    items = [
        {key: name, "cases": cases, "breached": hits, "rate": share(hits, cases)}
        for name, (cases, hits) in counts.items()
    ]
    return most_first(key, "breached", items)


def satisfaction(cohort: list[Facts], policy: SlaPolicy) -> list[dict[str, Any]]:
    rated = [f for f in cohort if f.score is not None and f.status in ("resolved", "closed")]
    answer, low = [], 0.0
    for band in bands(policy):
        high = float("inf") if band.max_seconds is None else band.max_seconds
        scores = [f.score for f in rated if low <= f.open_seconds < high and f.score is not None]
        answer.append(
            {
                "band": band.label,
                "max_seconds": band.max_seconds,
                "responses": len(scores),
                "mean": sum(scores) / len(scores) if scores else None,
                "share_satisfied": share(sum(s >= 4 for s in scores), len(scores)),
            }
        )
        low = high
    return answer
