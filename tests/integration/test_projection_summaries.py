"""The case list (`case_summaries`): rows that follow each case, search, filters, pages, rebuild."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

import pytest
from eventsourcing.domain import Aggregate, event

from casemgmt.domain import (
    Action,
    Actor,
    Category,
    Channel,
    Context,
    InquiryKind,
    InsuranceLine,
    InvalidCommand,
    Priority,
    Requester,
    RequesterKind,
    Role,
)
from casemgmt.domain.sla import ClockName
from casemgmt.projections import PositionMoved
from casemgmt.queries import search_cases
from casemgmt.readmodels.case_summary import CaseSummary
from tests.support.projections import (
    Setup,
    fresh_setup,
    queue_states,
    summary_rows,
)
from tests.support.workload import CaseTraffic

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from uuid import UUID

    from casemgmt.settings import Settings

HANOI = timezone(timedelta(hours=7))
T0 = datetime(2026, 11, 24, 8, 15, tzinfo=HANOI)
CITIZEN = Requester(RequesterKind.CITIZEN, "0123456789", "Nguyễn Văn A", "a@example.vn")


@pytest.fixture
def setup(servers: Settings) -> Iterator[Setup]:
    with fresh_setup(servers) as made:
        yield made


def at(minutes: float, who: str = "lan.nguyen", role: Role = Role.SUPERVISOR) -> Context:
    return Context(Actor(who, role), T0 + timedelta(minutes=minutes), f"r{minutes}", "api")


def open_case(setup: Setup, subject: str, body: str | None = None, minutes: float = 0) -> UUID:
    case, _ = setup.container.care_centre.open_case(
        channel=Channel.EMAIL,
        subject=subject,
        body=body,
        requester=CITIZEN,
        unit="hanoi",
        ctx=at(minutes, "mail-gateway", Role.INTAKE),
    )
    return case.id


def caught_up(setup: Setup) -> None:
    with setup.projections.worker(["case_summaries"]):
        assert setup.projections.wait_until_caught_up(names=["case_summaries"], timeout=15)


def all_cases(setup: Setup, **filters: Any) -> list[CaseSummary]:
    found, page = [], 1
    while True:
        rows, total = search_cases(
            setup.container.datastore, page=page, per_page=200, sort="reference", **filters
        )
        found += rows
        if len(found) >= total:
            return found
        page += 1


def test_a_case_row_follows_the_case_through_its_life(setup: Setup) -> None:
    app = setup.container.care_centre
    case_id = open_case(setup, "Chưa nhận được sổ BHXH", "Tôi đã đóng bảo hiểm 10 năm.")
    app.act(
        case_id,
        Action.TRIAGE,
        at(1),
        category=Category(InsuranceLine.HEALTH, InquiryKind.PROCEDURE),
        priority=Priority.HIGH,
        unit=None,
    )
    app.act(case_id, Action.ASSIGN, at(2), agent="lan.nguyen")
    app.act(case_id, Action.REPLY, at(3), message="Sổ đã được gửi qua bưu điện.")
    app.act(case_id, Action.REPLY, at(4), message="Xin kiểm tra hộp thư.")
    app.act(case_id, Action.ESCALATE, at(5), reason="Công dân gọi lại nhiều lần")
    app.act(case_id, Action.RESOLVE, at(6), resolution="answered", summary=None)
    app.act(case_id, Action.CLOSE, at(7))

    caught_up(setup)

    [row], total = search_cases(setup.container.datastore)
    assert total == 1
    assert row == CaseSummary(
        case_id=case_id,
        reference=row.reference,
        status="closed",
        channel="email",
        subject="Chưa nhận được sổ BHXH",
        category_line="health",
        category_kind="procedure",
        priority="high",
        unit="hanoi",
        queue="health",
        assignee="lan.nguyen",
        escalation_level=1,
        received_at=T0,
        first_replied_at=T0 + timedelta(minutes=3),
        resolved_at=T0 + timedelta(minutes=6),
        closed_at=T0 + timedelta(minutes=7),
        merged_into=None,
        first_response_breached=False,
        resolution_breached=False,
        last_activity_at=T0 + timedelta(minutes=7),
        # Received, SlaClockStarted ×2, Triaged, SlaDeadlineRecomputed ×2, Assigned, Replied,
        # SlaClockStopped (first_response), Replied, Escalated, Resolved, SlaClockStopped
        # (resolution), Closed.
        version=15,  # the resolution's SurveyRequested among them
        # T0 is a holiday (Vietnam Cultural Day, 24 November): the clocks count from Wednesday
        # 25th at 07:30 in the office calendar (07:30-11:30, 13:00-16:30). Triaged high: PT4H,
        # warned at 75% (3 h); P3D, that is 3 × 7.5 h, warned after 16 h 52 min 30 s.
        first_response_due=datetime(2026, 11, 25, 11, 30, tzinfo=HANOI),
        first_response_warning_at=datetime(2026, 11, 25, 10, 30, tzinfo=HANOI),
        first_response_state="met",  # stopped by the first reply, before any working time
        first_response_alarm_at=None,
        resolution_due=datetime(2026, 11, 27, 16, 30, tzinfo=HANOI),
        resolution_warning_at=datetime(2026, 11, 27, 9, 22, 30, tzinfo=HANOI),
        resolution_state="met",
        resolution_alarm_at=None,
        next_sla_alarm_at=None,  # no clock runs
        opened_by="mail-gateway",  # the intake account that opened it lists it
        external_ref=None,
        first_response_at=T0 + timedelta(minutes=3),
        sla_clocks=None,  # kept for `sla apply`, not listed
        clocks_known=True,
    )
    clocks = app.get_case(case_id).clocks
    assert [(row.first_response_due, row.resolution_due)] == [
        (clocks[ClockName.FIRST_RESPONSE].due, clocks[ClockName.RESOLUTION].due)
    ]


@pytest.mark.parametrize(
    ("query", "finds"),
    [
        ("bảo hiểm", {"health card"}),
        ("bao hiem", {"health card"}),
        ("BẢO HIỂM y tế", {"health card"}),
        ("đóng", {"contributions"}),
        ("dong", {"contributions"}),
        ("DONG", {"contributions"}),
        ("tu nguyen", {"contributions"}),
        ("so bhxh", {"book"}),
        ("hiem or nguyen", {"health card", "contributions"}),
        ("bao -y", set()),
        ('"tu nguyen"', {"contributions"}),
        ("zaswiadczenie", {"certificate"}),
    ],
)
def test_text_is_found_with_or_without_vietnamese_diacritics(
    setup: Setup, query: str, finds: set[str]
) -> None:
    app = setup.container.care_centre
    cases = {
        "health card": open_case(setup, "Bảo hiểm y tế"),
        "contributions": open_case(setup, "Hỏi về mức đóng", minutes=1),
        "book": open_case(setup, "Chưa nhận được sổ", "Sổ BHXH bị thất lạc", minutes=2),
        "certificate": open_case(setup, "Zapytanie o zaświadczenie", minutes=3),
    }
    contributions = cases["contributions"]
    app.act(contributions, Action.ASSIGN, at(4), agent="lan.nguyen")
    app.act(
        contributions,
        Action.REPLY,
        at(5),
        message="Mức đóng BHXH tự nguyện được tính theo thu nhập.",
    )

    caught_up(setup)

    rows, total = search_cases(setup.container.datastore, text=query, sort="relevance")
    assert {row.case_id for row in rows} == {cases[name] for name in finds}
    assert total == len(finds)


def test_every_filter_sort_and_page_agrees_with_the_rows_themselves(setup: Setup) -> None:
    CaseTraffic(setup.container.care_centre, seed=7).busy_day(1500)
    caught_up(setup)
    # The traffic records no SLA clocks: mark some rows breached so that both values filter.
    setup.container.datastore.execute(
        "UPDATE case_summaries SET resolution_breached = true"
        " WHERE case_id IN (SELECT case_id FROM case_summaries ORDER BY case_id LIMIT 25)"
    )
    everything = all_cases(setup)
    assert len(everything) > 150
    assert sum(row.breached for row in everything) == 25
    by: dict[str, Callable[[CaseSummary, Any], bool]] = {
        "status": lambda r, v: r.status in v,
        "channel": lambda r, v: r.channel == v,
        "category_line": lambda r, v: r.category_line == v,
        "category_kind": lambda r, v: r.category_kind == v,
        "priority": lambda r, v: r.priority == v,
        "unit": lambda r, v: r.unit == v,
        "queue": lambda r, v: r.queue == v,
        "assignee": lambda r, v: r.assignee == v,
        "escalation_level": lambda r, v: r.escalation_level == v,
        "breached": lambda r, v: r.breached == v,
    }
    cases: list[dict[str, Any]] = [
        {"status": ["triaged", "in_progress"]},
        {"channel": "email"},
        {"category_line": "health", "priority": "urgent"},
        {"category_kind": "complaint"},
        {"unit": "hanoi", "status": ["resolved"]},
        {"queue": "complaints"},
        {"assignee": "agent-3"},
        {"escalation_level": 1},
        {"breached": False},
        {"breached": True},
    ]
    for filters in cases:
        expected = [r for r in everything if all(by[k](r, v) for k, v in filters.items())]
        assert all_cases(setup, **filters) == expected, filters

    newest_first = sorted(everything, key=lambda r: r.case_id)
    newest_first.sort(key=lambda r: r.received_at, reverse=True)
    pages = []
    for page in range(1, len(everything) // 7 + 3):
        rows, total = search_cases(setup.container.datastore, page=page, per_page=7)
        assert total == len(everything)
        pages += rows
    assert pages == newest_first

    urgent_first = sorted(everything, key=lambda r: r.case_id)
    rank = {"urgent": 0, "high": 1, "normal": 2, "low": 3}
    urgent_first.sort(key=lambda r: rank[r.priority])
    rows, _ = search_cases(setup.container.datastore, sort="-priority", per_page=200)
    assert rows == urgent_first[:200]


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        ({"sort": "colour"}, "sort"),
        ({"sort": "relevance"}, "sort"),
        ({"page": 0}, "page"),
        ({"per_page": 201}, "per_page"),
    ],
)
def test_a_bad_sort_or_page_is_refused_naming_it(
    setup: Setup, arguments: dict[str, Any], field: str
) -> None:
    with pytest.raises(InvalidCommand) as refused:
        search_cases(setup.container.datastore, **arguments)
    assert refused.value.field == field


def test_rebuilding_keeps_the_old_rows_readable_until_the_new_ones_replace_them(
    setup: Setup,
) -> None:
    traffic = CaseTraffic(setup.container.care_centre, seed=3)
    first = traffic.busy_day(1000)
    caught_up(setup)
    before = summary_rows(setup)
    reported: list[tuple[int, int]] = []
    halfway, go_on = threading.Event(), threading.Event()

    def progress(done: int, total: int) -> None:
        reported.append((done, total))
        if done >= 500 and not halfway.is_set():
            halfway.set()
            go_on.wait(10)

    with setup.projections.worker(["case_summaries"]):
        rebuild = threading.Thread(
            target=setup.projections.rebuild,
            args=("case_summaries",),
            kwargs={"progress": progress, "batch_size": 100},
        )
        rebuild.start()
        assert halfway.wait(10)
        assert summary_rows(setup) == before  # half rebuilt, still the old rows to read
        more = traffic.busy_day(50)  # the live worker waits for the rebuild meanwhile
        go_on.set()
        rebuild.join(20)
        assert setup.projections.wait_until_caught_up(names=["case_summaries"], timeout=10)
    live = summary_rows(setup)
    assert len(live) > len(before)
    setup.projections.rebuild("case_summaries")
    assert summary_rows(setup) == live
    assert reported[0] == (0, reported[0][1])
    assert reported[-1] == (first + more, first + more)  # the replay saw the new events too


class Memo(Aggregate):
    """Not a case: something else saved into the care centre's log."""

    @event("Written")
    def __init__(self, text: str) -> None:
        self.text = text


def test_events_that_are_not_about_cases_still_move_the_position(setup: Setup) -> None:
    open_case(setup, "Bảo hiểm y tế")
    setup.container.care_centre.save(Memo("not a case"))
    head = setup.projections.log.head()
    # The projections only: the SLA timer would record the case's alarms (T0 is long past).
    with setup.projections.worker(setup.projections.names):
        assert setup.projections.wait_until_caught_up(head, timeout=10)
    assert setup.projections.positions() == {
        "case_summaries": head,
        "work_queues": head,
        "reports": head,
        "audit_log": head,
        "active_care": 0,  # it follows the sessions' log, empty here
    }
    assert len(summary_rows(setup)) == 1


@pytest.mark.parametrize("name", ["case_summaries", "work_queues"])
def test_a_batch_from_a_stale_position_is_refused_and_changes_nothing(
    setup: Setup, name: str
) -> None:
    case_id = open_case(setup, "Bảo hiểm y tế")
    setup.container.care_centre.act(
        case_id,
        Action.TRIAGE,
        at(1),
        category=Category(InsuranceLine.HEALTH, InquiryKind.PROCEDURE),
        priority=Priority.HIGH,
        unit=None,
    )
    # The projections only: T0 is long past, so the SLA timer would record alarms meanwhile.
    with setup.projections.worker(setup.projections.names):
        assert setup.projections.wait_until_caught_up(timeout=10)
    open_case(setup, "Trợ cấp thất nghiệp", minutes=2)
    rows, queues, position = (
        summary_rows(setup),
        queue_states(setup),
        setup.projections[name].position(),
    )
    stale = setup.projections.log.read(1, 100)  # as if notification 2 were not written yet
    # 6: Received and SlaClockStarted ×2, then Triaged and SlaDeadlineRecomputed ×2.
    assert stale is not None and stale.after == 1 and position == 6

    with pytest.raises(PositionMoved):
        setup.projections[name].write(stale)

    assert (summary_rows(setup), queue_states(setup)) == (rows, queues)
    assert setup.projections[name].position() == position


def test_a_very_long_conversation_does_not_stop_the_case_list(setup: Setup) -> None:
    case_id = open_case(setup, "Hồ sơ dài")
    setup.container.care_centre.act(case_id, Action.ASSIGN, at(1), agent="lan.nguyen")
    # Far beyond what a PostgreSQL tsvector holds (1 MB) if it were all indexed.
    setup.container.care_centre.act(
        case_id, Action.REPLY, at(2), message=" ".join(f"tu{n}" for n in range(150_000))
    )
    later = open_case(setup, "Bảo hiểm y tế", minutes=3)
    caught_up(setup)
    assert {row.case_id for row in search_cases(setup.container.datastore, text="tu1")[0]} == {
        case_id
    }
    assert [row.case_id for row in search_cases(setup.container.datastore, text="bao hiem")[0]] == [
        later
    ]
