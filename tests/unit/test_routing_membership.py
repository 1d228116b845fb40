"""Queue membership derived from a case's events, folded as the projections fold them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

from casemgmt.domain import (
    Actor,
    Case,
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
from casemgmt.domain.routing import DEFAULT_ROUTING
from casemgmt.projections.summaries import evolve, words_added
from casemgmt.readmodels.case_summary import CaseSummary
from casemgmt.readmodels.text import fold
from casemgmt.readmodels.work_queue_layout import waiting_queue

T0 = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)
_minutes = iter(range(1, 10_000))


def ctx() -> Context:
    moment = T0 + timedelta(minutes=next(_minutes))
    return Context(Actor("mai.tran", Role.SUPERVISOR), moment, "r", "api")


def new_case() -> Case:
    return Case.receive(
        id=uuid4(),
        reference="CC-2026-000001",
        channel=Channel.POST,
        subject="Đề nghị cấp lại thẻ BHYT",
        body="Thẻ bị mất.",
        requester=Requester(RequesterKind.CITIZEN, None, "Lê Văn Đức"),
        unit="hanoi",
        ctx=Context(Actor("scanner", Role.INTAKE), T0, "r", "channel:post"),
    )


def fold_events(case: Case, summary: CaseSummary | None = None) -> CaseSummary | None:
    for event in case.collect_events():
        assert isinstance(event, Case.Event)
        summary = evolve(summary, event, DEFAULT_ROUTING)
    return summary


def test_membership_follows_the_events_of_a_case() -> None:
    case = new_case()
    summary = fold_events(case)
    assert summary is not None and waiting_queue(summary) is None  # not triaged yet
    steps: list[tuple[str, str | None]] = []

    def after(step: str) -> None:
        assert summary is not None
        fold_events(case, summary)
        steps.append((step, waiting_queue(summary)))

    case.triage(Category(InsuranceLine.HEALTH, InquiryKind.PROCEDURE), Priority.HIGH, None, ctx())
    after("triaged")
    case.assign("lan.nguyen", ctx())
    after("assigned")
    case.unassign(ctx())
    after("unassigned")
    case.assign("lan.nguyen", ctx())
    case.transfer("hcm", "Thuộc thẩm quyền TP.HCM", ctx())
    after("transferred")
    case.assign("binh.le", ctx())
    case.resolve("answered", None, ctx())
    after("resolved")
    case.reopen("hỏi lại", ctx(), timedelta(days=30))
    after("reopened with its agent")
    case.unassign(ctx())
    after("unassigned again")

    assert steps == [
        ("triaged", "health"),
        ("assigned", None),
        ("unassigned", "health"),
        ("transferred", "health"),
        ("resolved", None),
        ("reopened with its agent", None),
        ("unassigned again", "health"),
    ]


def test_an_event_of_a_case_never_received_here_is_skipped() -> None:
    case = new_case()
    case.collect_events()
    case.note("ghi chú", ctx())
    [note] = case.collect_events()
    assert isinstance(note, Case.Event)
    assert evolve(None, note, DEFAULT_ROUTING) is None


def test_the_searchable_words_are_the_subject_body_and_messages_folded() -> None:
    case = new_case()
    case.assign("lan.nguyen", ctx())
    case.reply("Đã gửi thẻ mới qua bưu điện", ctx())
    case.note("nội bộ", ctx())
    words = [words_added(event) for event in case.collect_events() if isinstance(event, Case.Event)]
    assert [fold(w) for w in words if w] == [
        "đe nghi cap lai the bhyt\nthe bi mat.".replace("đ", "d"),
        "da gui the moi qua buu dien",
    ]
    assert fold("Lê Văn ĐỨC") == "le van duc"
