"""Work queues in Redis: who waits where and in which order, and claiming the next case."""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import pytest

from casemgmt.application import CareCentre, Claims
from casemgmt.bootstrap import application_env
from casemgmt.domain import (
    Action,
    Actor,
    Category,
    Channel,
    Context,
    InquiryKind,
    InsuranceLine,
    Priority,
    Requester,
    RequesterKind,
    Role,
)
from casemgmt.projections.work_queues import release_expired_claims
from casemgmt.queries import search_cases
from casemgmt.queries.work_queues import CLAIM_HOLD
from tests.support.projections import Setup, agent_context, fresh_setup
from tests.support.workload import CaseTraffic

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from uuid import UUID

    from eventsourcing.utils import EnvType

    from casemgmt.domain import Case
    from casemgmt.runtime import ProjectionWorker
    from casemgmt.settings import Settings

T0 = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)
SUPERVISOR = Actor("mai.tran", Role.SUPERVISOR)
SWITCHBOARD = Actor("switchboard", Role.INTAKE)


@pytest.fixture
def setup(servers: Settings) -> Iterator[Setup]:
    with fresh_setup(servers) as made:
        yield made


@pytest.fixture
def worker(setup: Setup) -> Iterator[ProjectionWorker]:
    with setup.projections.worker() as running:
        yield running


def at(minutes: float, actor: Actor = SUPERVISOR) -> Context:
    return Context(actor, T0 + timedelta(minutes=minutes), f"r{minutes}", "api")


def triaged(
    setup: Setup,
    priority: Priority,
    received_minutes: float,
    line: InsuranceLine = InsuranceLine.SOCIAL,
) -> UUID:
    app = setup.container.care_centre
    case, _ = app.open_case(
        channel=Channel.PHONE,
        subject="Hỏi về lương hưu",
        requester=Requester(RequesterKind.CITIZEN, None, "Trần Thị B"),
        received_at=T0 + timedelta(minutes=received_minutes),
        ctx=at(received_minutes, SWITCHBOARD),
    )
    category = Category(line, InquiryKind.BENEFIT_STATUS)
    app.act(
        case.id,
        Action.TRIAGE,
        at(received_minutes + 1),
        category=category,
        priority=priority,
        unit="hanoi",
    )
    return case.id


def waiting(setup: Setup, queue: str = "social") -> list[UUID]:
    assert setup.projections.wait_until_caught_up(timeout=10)
    return [item.case_id for item in setup.queues.queue_items(queue, 1000)]


def test_cases_wait_urgent_first_then_oldest_first(setup: Setup, worker: ProjectionWorker) -> None:
    normal_old = triaged(setup, Priority.NORMAL, 0)
    urgent_new = triaged(setup, Priority.URGENT, 30)
    low_oldest = triaged(setup, Priority.LOW, -60)
    urgent_old = triaged(setup, Priority.URGENT, 10)
    normal_new = triaged(setup, Priority.NORMAL, 20)
    health = triaged(setup, Priority.URGENT, 0, InsuranceLine.HEALTH)

    assert waiting(setup) == [urgent_old, urgent_new, normal_old, normal_new, low_oldest]
    assert waiting(setup, "health") == [health]
    overview = {queue.name: queue for queue in setup.queues.queue_overview()}
    social = overview["social"]
    assert social.size == 5
    assert social.by_priority == {"urgent": 2, "high": 0, "normal": 2, "low": 1}
    assert social.oldest_received_at == T0 - timedelta(minutes=60)
    assert social.oldest_waiting_seconds is not None and social.oldest_waiting_seconds > 3600
    assert overview["general"].size == 0  # named by the routing rules, empty


def test_a_case_leaves_its_queue_when_taken_or_finished_and_returns_when_free_again(
    setup: Setup, worker: ProjectionWorker
) -> None:
    app = setup.container.care_centre
    case = triaged(setup, Priority.HIGH, 0)
    other = triaged(setup, Priority.NORMAL, 0)
    assert waiting(setup) == [case, other]

    app.act(case, Action.ASSIGN, at(5), agent="lan.nguyen")
    assert waiting(setup) == [other]
    app.act(case, Action.UNASSIGN, at(6))
    assert waiting(setup) == [case, other]
    app.act(case, Action.ASSIGN, at(7), agent="lan.nguyen")
    app.act(
        case, Action.TRANSFER, at(8), unit="hcmc", reason="Thuộc thẩm quyền TP.HCM"
    )  # back to waiting, unassigned
    assert waiting(setup) == [case, other]
    app.act(case, Action.ASSIGN, at(9), agent="binh.le")
    app.act(case, Action.REQUEST_INFO, at(10), message="Xin bổ sung giấy tờ")
    app.act(
        case, Action.UNASSIGN, at(11)
    )  # awaiting the citizen: waits for the citizen, not an agent
    assert waiting(setup) == [other]
    app.act(
        case, Action.CITIZEN_MESSAGE, at(12), message="Đã gửi giấy tờ"
    )  # back in progress, nobody on it
    assert waiting(setup) == [case, other]
    app.act(case, Action.ASSIGN, at(13), agent="binh.le")
    app.act(case, Action.RESOLVE, at(14), resolution="answered", summary=None)
    app.act(case, Action.CLOSE, at(15))
    assert waiting(setup) == [other]
    app.act(
        case, Action.REOPEN, at(16), reason="Công dân hỏi lại"
    )  # back with binh.le, who still has it
    assert waiting(setup) == [other]
    app.act(other, Action.MERGE, at(17), into=case)
    assert waiting(setup) == []


def test_a_claim_assigns_the_next_case_to_the_agent(setup: Setup, worker: ProjectionWorker) -> None:
    first, second = triaged(setup, Priority.URGENT, 0), triaged(setup, Priority.LOW, 0)
    assert waiting(setup) == [first, second]

    claimed = setup.claims.claim_next("social", agent_context("lan.nguyen"))

    assert claimed is not None and claimed.id == first
    assert setup.container.care_centre.get_case(first).assignee == "lan.nguyen"
    assert waiting(setup) == [second]
    assert setup.claims.claim_next("health", agent_context("lan.nguyen")) is None


def test_a_claim_skips_a_case_taken_meanwhile_and_takes_the_next(setup: Setup) -> None:
    with setup.projections.worker():
        taken, free = triaged(setup, Priority.URGENT, 0), triaged(setup, Priority.NORMAL, 0)
        assert waiting(setup) == [taken, free]
    # With no worker running the queue still shows `taken` first after a supervisor assigns it.
    setup.container.care_centre.act(taken, Action.ASSIGN, at(5), agent="mai.tran")

    claimed = setup.claims.claim_next("social", agent_context("lan.nguyen"))

    assert claimed is not None and claimed.id == free
    assert setup.container.care_centre.get_case(taken).assignee == "mai.tran"
    assert setup.queues.queue_items("social") == []  # `taken` was not put back


class SupervisorStepsIn(CareCentre):
    """The care centre, where a supervisor assigns a case the moment a claim has read it."""

    name = CareCentre.name  # the same event store

    def __init__(self, env: EnvType, *, case_id: UUID, assignee: str) -> None:
        super().__init__(env)
        self.case_id = case_id
        self.assignee = assignee
        self.version_after_stepping_in: int | None = None

    def find_case(self, case_id: UUID) -> Case | None:
        case = super().find_case(case_id)
        if case_id == self.case_id and self.version_after_stepping_in is None:
            self.version_after_stepping_in = 0
            assigned = self.act(case_id, Action.ASSIGN, at(5), agent=self.assignee)
            self.version_after_stepping_in = assigned.version
        return case


@pytest.mark.parametrize("claimer", [Role.AGENT, Role.SUPERVISOR])
def test_version_guard_a_claim_does_not_assign_a_case_assigned_after_it_was_read(
    setup: Setup, claimer: Role
) -> None:
    with setup.projections.worker():
        taken, free = triaged(setup, Priority.URGENT, 0), triaged(setup, Priority.NORMAL, 0)
        assert waiting(setup) == [taken, free]
    # The claim takes `taken` off the queue and reads it, still waiting; then a supervisor gives
    # it to lan.nguyen, before the claim assigns it.
    care_centre = SupervisorStepsIn(
        application_env(setup.container.settings), case_id=taken, assignee="lan.nguyen"
    )
    try:
        claims = Claims(care_centre, setup.queues)
        claimer_context = replace(agent_context("binh.le"), actor=Actor("binh.le", claimer))

        claimed = claims.claim_next("social", claimer_context)

        assert care_centre.version_after_stepping_in  # the supervisor did step in
        assert claimed is not None
        assert claimed.id != taken, "the claim assigned a case a supervisor assigned meanwhile"
        assert claimed.id == free
        now = care_centre.get_case(taken)
        assert (now.assignee, now.version) == ("lan.nguyen", care_centre.version_after_stepping_in)
        assert setup.queues.queue_items("social") == []  # `taken` was not put back
    finally:
        care_centre.close()


def test_atomic_pop_claimers_taking_at_once_never_take_the_same_case(
    setup: Setup, worker: ProjectionWorker
) -> None:
    cases = CaseTraffic(setup.container.care_centre, seed=12).waiting_cases(400)
    assert len(waiting(setup, "health")) == len(cases)
    takers = 16
    taken: list[list[UUID]] = [[] for _ in range(takers)]
    start = threading.Barrier(takers)

    def take(mine: list[UUID]) -> None:
        start.wait()
        while (head := setup.queues.take_next("health")) is not None:
            mine.append(head.case_id)

    threads = [threading.Thread(target=take, args=(mine,)) for mine in taken]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    every_take = [case for mine in taken for case in mine]
    twice = [case for case, times in Counter(every_take).items() if times > 1]
    assert not twice, f"{len(twice)} cases were taken by two claimers"
    assert sorted(every_take) == sorted(cases)
    assert sum(1 for mine in taken if mine) > 1, "the claimers really raced"


def test_a_claim_whose_claimer_died_returns_to_the_queue(setup: Setup) -> None:
    # The SLA timer runs too: the alarms of this long-overdue case, recorded while the claim holds
    # it, leave it out of line until the hold expires.
    with setup.projections.worker():
        case = triaged(setup, Priority.NORMAL, 0)
        assert waiting(setup) == [case]
        # What claim_next does before it assigns; the claimer then dies.
        assert setup.queues.take_next("social") is not None
        assert setup.queues.queue_items("social") == []
        hold_expired = datetime.now(UTC) + CLAIM_HOLD + timedelta(seconds=1)

        assert release_expired_claims(setup.container.redis, setup.queues.keys, hold_expired) == 1

        assert waiting(setup) == [case]


def note_on(setup: Setup, case: UUID) -> None:
    setup.container.care_centre.act(case, Action.NOTE, at(5), text="Đã gọi lại, chờ hồ sơ")


def alarms_from_the_sla_timer(setup: Setup, case: UUID) -> None:
    """Runs the SLA timer until it has recorded the case's four long-overdue alarms."""
    with setup.projections.worker(["sla_timer"], lock_retry_seconds=0.1):
        deadline = time.monotonic() + 15
        while len(alarms_of(setup, case)) < 4:
            assert time.monotonic() < deadline, "the SLA timer recorded no alarms"
            time.sleep(0.05)


def alarms_of(setup: Setup, case: UUID) -> list[object]:
    history = setup.container.care_centre.history(case)
    return [e for e in history if type(e).__name__ in ("SlaWarning", "SlaBreached")]


@pytest.mark.parametrize("new_event", [note_on, alarms_from_the_sla_timer])
def test_claim_hold_a_case_taken_by_a_claim_stays_out_of_its_queue_until_the_hold_expires(
    setup: Setup, new_event: Callable[[Setup, UUID], None]
) -> None:
    names = [name for name in setup.projections.runner_names if name != "sla_timer"]
    with setup.projections.worker(names):
        case = triaged(setup, Priority.NORMAL, 0)
        assert waiting(setup) == [case]
        # What claim_next does before it assigns; the claimer is slow (or dies) and meanwhile
        # the case records another event that leaves it waiting for an agent.
        taken = setup.queues.take_next("social")
        assert taken is not None and taken.case_id == case
        new_event(setup, case)

        assert waiting(setup) == [], "a new event put a case under a claim hold back in line"
        assert setup.claims.claim_next("social", agent_context("binh.le")) is None
        hold_expired = datetime.now(UTC) + CLAIM_HOLD + timedelta(seconds=1)
        assert release_expired_claims(setup.container.redis, setup.queues.keys, hold_expired) == 1
        assert waiting(setup) == [case]
        claimed = setup.claims.claim_next("social", agent_context("binh.le"))
        assert claimed is not None and claimed.id == case
        assert waiting(setup) == []


def test_fifty_agents_claiming_at_once_never_share_a_case(
    setup: Setup, worker: ProjectionWorker
) -> None:
    cases = set(CaseTraffic(setup.container.care_centre, seed=11).waiting_cases(1000))
    assert len(waiting(setup, "health")) == 1000
    claims: dict[str, list[UUID]] = {f"agent-{n:02d}": [] for n in range(50)}
    start = threading.Barrier(len(claims))

    def work(agent: str) -> None:
        context = agent_context(agent)
        start.wait()
        while (case := setup.claims.claim_next("health", context)) is not None:
            claims[agent].append(case.id)

    threads = [threading.Thread(target=work, args=(agent,)) for agent in claims]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    took = time.monotonic() - started

    every_claim = [case for claimed in claims.values() for case in claimed]
    assert Counter(every_claim).most_common(1)[0][1] == 1  # no case twice, to anyone
    assert set(every_claim) == cases  # and every case once
    assert sum(1 for claimed in claims.values() if claimed) > 10, "the agents really raced"
    assert setup.projections.wait_until_caught_up(timeout=10)
    assert setup.queues.queue_items("health") == []
    rows, total = search_cases(setup.container.datastore, status="in_progress", per_page=200)
    assert total == 1000
    owner = {case: agent for agent, claimed in claims.items() for case in claimed}
    for page in range(1, 6):
        rows, _ = search_cases(
            setup.container.datastore, status="in_progress", per_page=200, page=page
        )
        assert all(row.assignee == owner[row.case_id] for row in rows)
    assert took < 30
