"""`casemgmt demo`: a realistic, repeatable history written through the real application.

Cases arrive over the last `--days` days in office hours (Hanoi time) through the seven channels
in a plausible mix, from several provinces, with Vietnamese subjects and messages; agent accounts
(created in the accounts store, since `assign` names existing accounts) work them with triage,
replies, requests for information, transfers, escalations, merges, resolutions, reopenings and
closings; requesters rate most resolved cases (about 85 % give 4 or 5); supervisors hold
conferences and Q&A sessions whose questions become in-person cases.

Each case's story is played in memory by the application itself: `CareCentre.draft_case` opens
it and `act_on` gives it every command in turn, with the moment of the story in the `Context`,
so its events, SLA clocks, reference and sealed personal data are those the API would store.
Then, as of the end of the history, about one open case in fifty is merged into another of its
block as a duplicate, and the SLA timer's `check_sla_on` records the warnings and breaches the
history left due. A block of cases is saved in one transaction: nothing is read back. Last, the
projections (case list, work queues, action log, reports) are caught up with what was written.

The same `--seed` writes the same history (ids and references aside): each case's story is
drawn from its own random stream (seed, case number), each block's merges from the block's.
"""

from __future__ import annotations

import random
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from functools import partial
from typing import TYPE_CHECKING, Any, Final
from zoneinfo import ZoneInfo

from eventsourcing.persistence import IntegrityError

from casemgmt.cli.progress import progress_bar
from casemgmt.cli.projection_processes import ProjectionProcesses
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
    Status,
)
from casemgmt.domain.sessions import SessionKind

if TYPE_CHECKING:
    import argparse
    from collections.abc import Callable
    from uuid import UUID

    from casemgmt.application import CareCentre
    from casemgmt.bootstrap import Container
    from casemgmt.domain import Case

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
# Cases played in memory and saved in one transaction: large enough that a save's round trip and
# lock are shared by thousands of events, small enough to keep a block's cases in memory.
BLOCK: Final = 250
# The statuses in which a case may turn out to repeat another and be merged into it.
OPEN: Final = frozenset(
    {Status.RECEIVED, Status.TRIAGED, Status.IN_PROGRESS, Status.AWAITING_CITIZEN}
)


@dataclass(frozen=True)
class _History:
    """What every story of one demo shares: its seed, its span and the agents of each unit."""

    seed: int
    start: datetime
    end: datetime
    agents: dict[str, list[str]]


@dataclass
class Tally:
    """What the demo wrote, by kind of history (the same for the same seed)."""

    counts: dict[str, int] = field(default_factory=dict)
    scores: list[int] = field(default_factory=list)

    def add(self, what: str, n: int = 1) -> None:
        self.counts[what] = self.counts.get(what, 0) + n

    def absorb(self, other: Tally) -> None:
        """Adds what another part of the demo wrote (a block of cases)."""
        for what, n in other.counts.items():
            self.add(what, n)
        self.scores += other.scores

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
    demo.add_argument(
        "--threads", type=_positive, default=2, help=f"blocks of {BLOCK} cases written at once (2)"
    )
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
    threads: int = 2,
    progress: bool = False,
) -> Tally:
    """Writes the history and catches the projections up with it; returns what it wrote.

    Blocks of cases are written by `threads` threads at once; what each block holds depends on
    the seed and the case numbers alone, so the threads do not change what is written.
    """
    end = container.clock()
    start = end - timedelta(days=days)
    history = _History(seed, start, end, _agents(container, seed))
    tally = Tally()
    projections = container.projections
    with ProjectionProcesses(container.settings, projections.names) as followers:
        _sessions(container, seed, start, end, tally)
        blocks = [range(first, min(first + BLOCK, cases)) for first in range(0, cases, BLOCK)]
        write = partial(_write_block, container.care_centre, history)
        with ThreadPoolExecutor(max_workers=threads) as pool:
            written = pool.map(write, blocks)
            try:
                with progress_bar("demo cases", unit="case", shown=progress) as bar:
                    for block, block_tally in zip(blocks, written, strict=True):
                        tally.absorb(block_tally)
                        bar(block.stop, cases)
                        followers.check()
            except BaseException:
                pool.shutdown(cancel_futures=True)  # a failure or ^C: no block is begun after it
                raise
        with progress_bar("projections", shown=progress) as bar:
            followers.wait_until_caught_up(projections, bar)
    return tally


def _write_block(centre: CareCentre, history: _History, numbers: range) -> Tally:
    """Plays the stories of the cases `numbers` in memory, merges duplicates among them and
    records the alarms due at the end of the history, then saves them all in one transaction."""
    tally = Tally()
    cases = [_Story(history, n, tally).tell(centre) for n in numbers]
    merged = _merges(centre, cases, history, numbers.start, tally)
    timer = Context(
        Actor("sla-timer", Role.SYSTEM), history.end, f"demo-{history.seed}-sla", "timer:sla"
    )
    tally.add("sla_alarms", sum(centre.check_sla_on(case, timer) for case in cases))
    _save(centre, cases, merged, tally)
    return tally


def _save(centre: CareCentre, cases: list[Case], merged: dict[UUID, Case], tally: Tally) -> None:
    """Saves the block in one transaction. When a demo of the same seed wrote some of its cases
    before, the store refuses the block; then each case (a duplicate with the case it was merged
    into) is saved on its own, and those written before are left as they are."""
    events = {case.id: list(case.pending_events) for case in cases}
    try:
        centre.save(*cases)
    except IntegrityError:
        survivors = {survivor.id for survivor in merged.values()}
        for case in cases:
            if case.id in survivors:
                continue  # saved with its duplicate
            together = [case.id] + ([merged[case.id].id] if case.id in merged else [])
            try:
                centre.save(*(event for one in together for event in events[one]))
            except IntegrityError:
                tally.add("written_before", len(together))


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


class _Story:
    """One case's story, drawn from its own random stream and played on the case in memory."""

    def __init__(self, history: _History, number: int, tally: Tally) -> None:
        self.rng = random.Random(f"{history.seed}:{number}")
        self.number, self.seed, self.end = number, history.seed, history.end
        self.agents = history.agents
        self.at = business_moment(self.rng, history.start, history.end - timedelta(hours=1))
        self.tally = tally

    def tell(self, centre: CareCentre) -> Case:
        rng = self.rng
        channel = rng.choices([c for c, _ in CHANNELS], [w for _, w in CHANNELS])[0]
        kind = rng.choice(list(SUBJECTS))
        subject, line = SUBJECTS[kind]
        unit = rng.choice(UNITS)
        case = centre.draft_case(
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
        self.tally.add("cases")
        try:
            self.work(partial(centre.act_on, case), unit, kind, line)
        except ActionNotAllowed:
            self.tally.add("stopped")  # a story that met the case in another state ends there
        return case

    def work(self, act: Callable[..., list[Case]], unit: str, kind: str, line: Any) -> None:
        rng = self.rng
        priority = rng.choices(list(Priority), [15, 65, 15, 5])[0]
        if not self.later(minutes=(5, 240)):
            return
        act(
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
        act(Action.ASSIGN, self.ctx(agent), agent=agent.id)
        if rng.random() < 0.25 and self.later(minutes=(5, 120)):
            act(
                Action.REQUEST_INFO,
                self.ctx(agent),
                message="Đề nghị anh/chị cung cấp mã số BHXH và ảnh CCCD.",
            )
            self.count("info_requests")
            if not self.later(minutes=(60, 3000)):
                return
            act(
                Action.CITIZEN_MESSAGE,
                self.ctx(INTAKE),
                message="Tôi gửi bổ sung mã số BHXH và ảnh CCCD.",
            )
        if rng.random() < 0.06 and self.later(minutes=(5, 120)):
            act(Action.ESCALATE, self.ctx(agent), reason="Cần ý kiến phòng chế độ.")
            self.count("escalations")
        if not self.later(minutes=(10, 900)):
            return
        act(
            Action.REPLY,
            self.ctx(agent),
            message="BHXH đã tiếp nhận và hướng dẫn anh/chị như sau.",
        )
        if not self.later(minutes=(10, 1500)):
            return
        act(
            Action.RESOLVE,
            self.ctx(agent),
            resolution="answered",
            summary="Đã hướng dẫn theo quy định hiện hành.",
        )
        self.count("resolved")
        if rng.random() < 0.6 and self.later(minutes=(30, 2000)):
            score = rng.choices([5, 4, 3, 2, 1], [58, 27, 8, 4, 3])[0]
            act(
                Action.FEEDBACK,
                self.ctx(INTAKE),
                score=score,
                comment="Cảm ơn cán bộ đã hỗ trợ." if score >= 4 else "Chờ quá lâu.",
            )
            self.tally.scores.append(score)
        if rng.random() < 0.05 and self.later(minutes=(60, 2000)):
            act(Action.REOPEN, self.ctx(agent), reason="Vẫn chưa nhận được tiền.")
            self.count("reopens")
            if self.later(minutes=(30, 600)):
                act(Action.RESOLVE, self.ctx(agent), resolution="answered", summary=None)
        if rng.random() < 0.5 and self.later(minutes=(600, 4000)):
            act(Action.CLOSE, self.ctx(SUPERVISOR))
            self.count("closed")

    def later(self, *, minutes: tuple[int, int]) -> bool:
        """Moves the story on; False when that would pass the end of the history."""
        self.at = self.at + timedelta(minutes=self.rng.randint(*minutes))
        return self.at < self.end

    def ctx(self, actor: Actor) -> Context:
        return Context(actor, self.at, f"demo-{self.seed}-{self.number}", "demo")

    def count(self, what: str) -> None:
        self.tally.add(what)


def _merges(
    centre: CareCentre, cases: list[Case], history: _History, first: int, tally: Tally
) -> dict[UUID, Case]:
    """About one case in fifty turns out to repeat another open one of its block (the block
    from case number `first`): it is merged into it, as of the end of the history. Returns the
    surviving case of each duplicate, by the duplicate's id."""
    rng = random.Random(f"{history.seed}:merges:{first}")
    ctx = Context(SUPERVISOR, history.end, f"demo-{history.seed}-merges", "demo")
    open_cases = [case for case in cases if case.status in OPEN]
    rng.shuffle(open_cases)
    at_hand = {case.id: case for case in open_cases}
    merged: dict[UUID, Case] = {}
    for duplicate, survivor in zip(open_cases[0::2], open_cases[1::2], strict=False):
        if rng.random() < 0.04 * len(cases) / max(1, len(open_cases)):
            centre.act_on(duplicate, Action.MERGE, ctx, at_hand=at_hand, into=survivor.id)
            merged[duplicate.id] = survivor
            tally.add("merges")
    return merged


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
