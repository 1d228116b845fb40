"""`casemgmt demo`: a realistic, repeatable history written through the real application.

Cases arrive over the last `--days` days in office hours (Hanoi time) through the seven channels
in a plausible mix, from several provinces, with Vietnamese subjects and messages; agent accounts
(created in the accounts store, since `assign` names existing accounts) work them with triage,
replies, requests for information, transfers, escalations, merges, resolutions, reopenings and
closings; requesters rate most resolved cases (about 85 % give 4 or 5); supervisors hold
conferences and Q&A sessions whose questions become in-person cases. Every command goes through
`CareCentre.open_case` / `act` (and `CareSessions`) with its moment given in the `Context`; at the
end the SLA timer's `check_sla_of` records the warnings and breaches that history left due. The
same `--seed` writes the same history (ids and references aside).
"""

from __future__ import annotations

import random
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import TYPE_CHECKING, Any, Final
from zoneinfo import ZoneInfo

from casemgmt.application.errors import ConcurrentUpdate
from casemgmt.cli.progress import progress_bar
from casemgmt.domain import (
    Action,
    ActionNotAllowed,
    Actor,
    Category,
    Channel,
    Context,
    InsuranceLine,
    Priority,
    Requester,
    RequesterKind,
    Role,
)
from casemgmt.domain.sessions import SessionKind

if TYPE_CHECKING:
    import argparse
    from collections.abc import Callable
    from uuid import UUID

    from casemgmt.bootstrap import Container

HANOI: Final = ZoneInfo("Asia/Ho_Chi_Minh")
CHANNELS: Final = (  # a plausible mix: the switchboard and the portals carry most of it
    (Channel.PHONE, 34),
    (Channel.NATIONAL_PORTAL, 18),
    (Channel.WEB_PORTAL, 14),
    (Channel.SOCIAL_MEDIA, 12),
    (Channel.EMAIL, 10),
    (Channel.POST, 5),
    (Channel.IN_PERSON, 7),
)
UNITS: Final = ("hanoi", "hcmc", "danang", "haiphong", "cantho", "thanhhoa", "nghean", "hue")
SUBJECTS: Final = {
    "policy_question": ("Điều kiện hưởng lương hưu khi đóng BHXH tự nguyện", InsuranceLine.SOCIAL),
    "procedure": ("Thủ tục cấp lại sổ BHXH bị mất", InsuranceLine.SOCIAL),
    "benefit_status": ("Chưa nhận được trợ cấp thất nghiệp tháng này", InsuranceLine.UNEMPLOYMENT),
    "contribution": ("Doanh nghiệp chưa đóng BHXH cho người lao động", InsuranceLine.SOCIAL),
    "complaint": ("Khiếu nại về thời gian giải quyết chế độ thai sản", InsuranceLine.SOCIAL),
    "suggestion": ("Đề nghị mở rộng danh sách cơ sở khám chữa bệnh BHYT", InsuranceLine.HEALTH),
}
NAMES: Final = ("Nguyễn Văn An", "Trần Thị Bình", "Lê Minh Châu", "Phạm Thu Dung", "Hoàng Văn Em")
AGENTS_PER_UNIT: Final = 3
CHUNK: Final = 500  # cases whose alarms the SLA check records in one transaction


@dataclass
class Tally:
    """What the demo wrote, by kind of history (the same for the same seed)."""

    counts: dict[str, int] = field(default_factory=dict)
    scores: list[int] = field(default_factory=list)

    def add(self, what: str, n: int = 1) -> None:
        self.counts[what] = self.counts.get(what, 0) + n

    @property
    def satisfaction(self) -> float:
        return sum(s >= 4 for s in self.scores) / len(self.scores) if self.scores else 0.0


def register(commands: Any, started: Callable[[], Any]) -> None:
    """Adds `demo` to the command line."""
    demo = commands.add_parser(
        "demo", help="write a realistic, seeded history of cases and sessions (for a look around)"
    )
    demo.add_argument("--cases", type=_positive, default=2000, help="how many cases (2000)")
    demo.add_argument("--days", type=_positive, default=30, help="over how many days (30)")
    demo.add_argument("--seed", type=int, default=2026, help="the same seed, the same history")
    demo.add_argument("--threads", type=_positive, default=4, help="cases written at once (4)")
    demo.set_defaults(command=lambda args: _demo(args, started))


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise ValueError(text)
    return value


def _demo(args: argparse.Namespace, started: Callable[[], Any]) -> int:
    with started() as container:
        tally = write_demo(
            container,
            cases=args.cases,
            days=args.days,
            seed=args.seed,
            threads=args.threads,
            progress=True,
        )
    for what, n in sorted(tally.counts.items()):
        print(f"{what:>12}: {n}")
    print(f"satisfaction: {tally.satisfaction:.1%} of {len(tally.scores)} ratings gave 4 or 5")
    return 0


def write_demo(
    container: Container,
    *,
    cases: int,
    days: int,
    seed: int,
    threads: int = 4,
    progress: bool = False,
) -> Tally:
    """Writes the history; returns what it wrote. Each case's story is drawn from its own random
    stream (seed, case number), so threads do not change what is written."""
    end = container.clock()
    start = end - timedelta(days=days)
    agents = _agents(container, seed)
    tally = Tally()
    plans = [_Plan(seed, n, start, end, agents) for n in range(cases)]
    _sessions(container, seed, start, end, tally)
    opened: list[UUID] = []
    with ThreadPoolExecutor(max_workers=threads) as pool:
        stories = pool.map(lambda plan: plan.tell(container), plans)
        if progress:
            with progress_bar("demo cases") as bar:
                for done, (case_id, counts) in enumerate(stories, 1):
                    opened.append(case_id)
                    _merge(tally, counts)
                    bar(done, cases)
        else:
            for case_id, counts in stories:
                opened.append(case_id)
                _merge(tally, counts)
    _merges(container, opened, seed, end, tally)
    ctx = Context(Actor("sla-timer", Role.SYSTEM), end, f"demo-{seed}-sla", "timer:sla")
    for first in range(0, len(opened), CHUNK):
        recorded = container.care_centre.check_sla_of(opened[first : first + CHUNK], ctx)
        tally.add("sla_alarms", sum(recorded.values()))
    return tally


def _merge(tally: Tally, counts: dict[str, Any]) -> None:
    for what, n in counts.items():
        if what == "score":
            tally.scores.append(n)
        else:
            tally.add(what, n)


def _agents(container: Container, seed: int) -> dict[str, list[str]]:
    """Three agent accounts per unit, a supervisor and an intake account (made once: a second
    demo finds them)."""
    agents = {unit: [f"demo-{unit}-{n}" for n in range(1, AGENTS_PER_UNIT + 1)] for unit in UNITS}
    wanted = [(name, Role.AGENT) for names in agents.values() for name in names]
    wanted += [(SUPERVISOR.id, Role.SUPERVISOR), (INTAKE.id, Role.INTAKE)]
    for name, role in wanted:
        if container.accounts.standing(name) is None:
            container.accounts.add(name, role, by="demo")
    return agents


SUPERVISOR: Final = Actor("demo-supervisor", Role.SUPERVISOR)
INTAKE: Final = Actor("demo-intake", Role.INTAKE)


def business_moment(rng: random.Random, start: datetime, end: datetime) -> datetime:
    """A moment in office hours (07:30-16:30, Monday to Friday, Hanoi time) between the two."""
    span = (end - start).total_seconds()
    for _ in range(50):
        moment = (start + timedelta(seconds=rng.uniform(0, span))).astimezone(HANOI)
        if moment.weekday() < 5 and time(7, 30) <= moment.time() <= time(16, 30):
            return moment
    return end.astimezone(HANOI)


class _Plan:
    """One case's story, drawn from its own random stream."""

    def __init__(
        self, seed: int, number: int, start: datetime, end: datetime, agents: dict[str, list[str]]
    ) -> None:
        self.rng = random.Random(f"{seed}:{number}")
        self.number, self.seed, self.end, self.agents = number, seed, end, agents
        self.at = business_moment(self.rng, start, end - timedelta(hours=1))
        self.counts: dict[str, Any] = {}

    def tell(self, container: Container) -> tuple[UUID, dict[str, Any]]:
        rng = self.rng
        channel = rng.choices([c for c, _ in CHANNELS], [w for _, w in CHANNELS])[0]
        kind = rng.choice(list(SUBJECTS))
        subject, line = SUBJECTS[kind]
        unit = rng.choice(UNITS)
        case, _ = container.care_centre.open_case(
            channel=channel,
            external_ref=f"demo-{self.seed}-{self.number}",
            subject=subject,
            body=f"Kính gửi BHXH {unit}: {subject.lower()}. Mong được hướng dẫn cụ thể.",
            requester=Requester(
                rng.choice([RequesterKind.CITIZEN] * 4 + [RequesterKind.EMPLOYER]),
                f"{rng.randrange(10**9, 10**10)}",
                rng.choice(NAMES),
                None,
            ),
            unit=unit,
            received_at=self.at,
            ctx=self.ctx(INTAKE),
        )
        self.count("cases")
        try:
            self.work(container, case.id, unit, kind, line)
        except (ActionNotAllowed, ConcurrentUpdate):
            self.count("stopped")  # a story that met the case in another state ends there
        return case.id, self.counts

    def work(self, container: Container, case_id: UUID, unit: str, kind: str, line: Any) -> None:
        rng = self.rng
        act = container.care_centre.act
        priority = rng.choices(list(Priority), [15, 65, 15, 5])[0]
        if not self.later(minutes=(5, 240)):
            return
        act(
            case_id,
            Action.TRIAGE,
            self.ctx(SUPERVISOR),
            category=Category(line, kind),
            priority=priority,
            unit=None,
        )
        self.count("triaged")
        if rng.random() < 0.07 and self.later(minutes=(10, 120)):
            other = rng.choice([u for u in UNITS if u != unit])
            act(
                case_id,
                Action.TRANSFER,
                self.ctx(SUPERVISOR),
                unit=other,
                reason="Hồ sơ thuộc địa bàn khác.",
            )
            self.count("transfers")
            unit = other
        agent = Actor(rng.choice(self.agents[unit]), Role.AGENT)
        if not self.later(minutes=(10, 600)):
            return
        act(case_id, Action.ASSIGN, self.ctx(agent), agent=agent.id)
        if rng.random() < 0.25 and self.later(minutes=(5, 120)):
            act(
                case_id,
                Action.REQUEST_INFO,
                self.ctx(agent),
                message="Đề nghị anh/chị cung cấp mã số BHXH và ảnh CCCD.",
            )
            self.count("info_requests")
            if not self.later(minutes=(60, 3000)):
                return
            act(
                case_id,
                Action.CITIZEN_MESSAGE,
                self.ctx(INTAKE),
                message="Tôi gửi bổ sung mã số BHXH và ảnh CCCD.",
            )
        if rng.random() < 0.06 and self.later(minutes=(5, 120)):
            act(case_id, Action.ESCALATE, self.ctx(agent), reason="Cần ý kiến phòng chế độ.")
            self.count("escalations")
        if not self.later(minutes=(10, 900)):
            return
        act(
            case_id,
            Action.REPLY,
            self.ctx(agent),
            message="BHXH đã tiếp nhận và hướng dẫn anh/chị như sau.",
        )
        if not self.later(minutes=(10, 1500)):
            return
        act(
            case_id,
            Action.RESOLVE,
            self.ctx(agent),
            resolution="answered",
            summary="Đã hướng dẫn theo quy định hiện hành.",
        )
        self.count("resolved")
        if rng.random() < 0.6 and self.later(minutes=(30, 2000)):
            score = rng.choices([5, 4, 3, 2, 1], [58, 27, 8, 4, 3])[0]
            act(
                case_id,
                Action.FEEDBACK,
                self.ctx(INTAKE),
                score=score,
                comment="Cảm ơn cán bộ đã hỗ trợ." if score >= 4 else "Chờ quá lâu.",
            )
            self.counts["score"] = score
        if rng.random() < 0.05 and self.later(minutes=(60, 2000)):
            act(case_id, Action.REOPEN, self.ctx(agent), reason="Vẫn chưa nhận được tiền.")
            self.count("reopens")
            if self.later(minutes=(30, 600)):
                act(case_id, Action.RESOLVE, self.ctx(agent), resolution="answered", summary=None)
        if rng.random() < 0.5 and self.later(minutes=(600, 4000)):
            act(case_id, Action.CLOSE, self.ctx(SUPERVISOR))
            self.count("closed")

    def later(self, *, minutes: tuple[int, int]) -> bool:
        """Moves the story on; False when that would pass the end of the history."""
        self.at = self.at + timedelta(minutes=self.rng.randint(*minutes))
        return self.at < self.end

    def ctx(self, actor: Actor) -> Context:
        return Context(actor, self.at, f"demo-{self.seed}-{self.number}", "demo")

    def count(self, what: str) -> None:
        self.counts[what] = self.counts.get(what, 0) + 1


def _merges(
    container: Container, opened: list[UUID], seed: int, end: datetime, tally: Tally
) -> None:
    """About one case in fifty turns out to repeat another open one: it is merged into it."""
    rng = random.Random(f"{seed}:merges")
    ctx = Context(SUPERVISOR, end, f"demo-{seed}-merges", "demo")
    open_ids = [
        c.id
        for c in container.care_centre.get_cases(opened)
        if c.status.value in ("triaged", "in_progress", "awaiting_citizen", "received")
    ]
    rng.shuffle(open_ids)
    for duplicate, survivor in zip(open_ids[0::2], open_ids[1::2], strict=False):
        if rng.random() < 0.04 * len(opened) / max(1, len(open_ids)):
            container.care_centre.act(duplicate, Action.MERGE, ctx, into=survivor)
            tally.add("merges")


def _sessions(
    container: Container, seed: int, start: datetime, end: datetime, tally: Tally
) -> None:
    """A conference or Q&A session per unit about every two weeks, held when past, with a few
    questions each opened as linked in-person cases."""
    rng = random.Random(f"{seed}:sessions")
    sessions = container.care_sessions
    weeks = max(1, int((end - start).days / 14))
    for unit in UNITS:
        for n in range(weeks):
            when = business_moment(rng, start + timedelta(days=14 * n), end)
            kind = rng.choice(list(SessionKind))
            topic = rng.choice(
                (
                    "Đối thoại chính sách BHXH tự nguyện",
                    "Hỏi đáp chế độ BHYT học sinh, sinh viên",
                    "Đối thoại với doanh nghiệp về nợ đóng BHXH",
                )
            )
            ctx = Context(SUPERVISOR, when, f"demo-{seed}-session-{unit}-{n}", "demo")
            session = sessions.schedule(
                kind=kind,
                topic=topic,
                unit=unit,
                scheduled_for=when,
                line=InsuranceLine.SOCIAL,
                ctx=ctx,
            )
            tally.add("sessions")
            held = when + timedelta(hours=2)
            if held >= end:
                continue
            ctx = Context(SUPERVISOR, held, ctx.correlation_id, "demo")
            sessions.record_held(session.id, attendance=rng.randint(20, 300), ctx=ctx)
            for q in range(rng.randint(1, 4)):
                sessions.raise_question(
                    session.id,
                    subject="Hỏi tại hội nghị: " + topic.lower(),
                    requester=Requester(RequesterKind.CITIZEN, None, rng.choice(NAMES)),
                    question_ref=f"demo-{seed}-{unit}-{n}-{q}",
                    ctx=ctx,
                )
                tally.add("session_questions")
