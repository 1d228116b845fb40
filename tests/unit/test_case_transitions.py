"""The lifecycle table, exhaustively: every action in every state does what the table says.

The helpers here (`ctx`, `new_case`, `case_in`) build cases through real commands and are shared by
the other `test_case_*` modules.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from itertools import count, product
from typing import Any, cast
from uuid import UUID

import pytest

from casemgmt.domain import (
    TRANSITIONS,
    Action,
    ActionNotAllowed,
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
    Status,
    allowed_actions,
    next_status,
)

HANOI = timezone(timedelta(hours=7))
T0 = datetime(2026, 11, 24, 8, 15, tzinfo=HANOI)
LATER = T0 + timedelta(hours=1)
REOPEN_WINDOW = timedelta(days=30)
INTAKE = Actor("mail-gateway", Role.INTAKE)
AGENT = Actor("agent-1", Role.AGENT)
OTHER_CASE = UUID("00000000-0000-4000-8000-000000000001")
_correlation = count(1)


def ctx(at: datetime = T0, actor: Actor = AGENT, cause: str = "api") -> Context:
    return Context(actor=actor, at=at, correlation_id=f"req-{next(_correlation)}", cause=cause)


def new_case(at: datetime = T0, external_ref: str = "<msg-1@mail>", **overrides: Any) -> Case:
    """A case received by email, as intake would open it."""
    fields: dict[str, Any] = {
        "id": Case.id_for(Channel.EMAIL, external_ref),
        "reference": "CC-2026-000001",
        "channel": Channel.EMAIL,
        "external_ref": external_ref,
        "subject": "Chưa nhận được sổ BHXH",
        "body": "Tôi chưa nhận được sổ bảo hiểm xã hội.",
        "requester": Requester(RequesterKind.CITIZEN, "0123456789", "Nguyễn Văn A", "a@example.vn"),
        "category": Category(InsuranceLine.SOCIAL, None),
        "priority": Priority.NORMAL,
        "unit": "hanoi",
        "received_at": at - timedelta(minutes=10),
        "ctx": ctx(at, INTAKE, "channel:email"),
    }
    fields.update(overrides)
    return Case.receive(**fields)


# How each state is reached from receipt, one command a minute.
_PATHS: dict[Status, list[Callable[[Case, Context], None]]] = {
    Status.RECEIVED: [],
    Status.TRIAGED: [
        lambda c, x: c.triage(
            Category(InsuranceLine.SOCIAL, InquiryKind.PROCEDURE), Priority.NORMAL, None, x
        )
    ],
}
_PATHS[Status.IN_PROGRESS] = [*_PATHS[Status.TRIAGED], lambda c, x: c.assign("agent-1", x)]
_PATHS[Status.AWAITING_CITIZEN] = [
    *_PATHS[Status.IN_PROGRESS],
    lambda c, x: c.request_info("Xin gửi bản sao CCCD.", x),
]
_PATHS[Status.RESOLVED] = [
    *_PATHS[Status.IN_PROGRESS],
    lambda c, x: c.reply("Sổ đã được gửi qua bưu điện.", x),
    lambda c, x: c.resolve("answered", "Sổ BHXH đã gửi ngày 20/11.", x),
]
_PATHS[Status.CLOSED] = [*_PATHS[Status.RESOLVED], lambda c, x: c.close(x)]
_PATHS[Status.MERGED] = [lambda c, x: c.merge(OTHER_CASE, x)]


def case_in(status: Status) -> Case:
    """A case driven to `status` through real commands, its last event before `LATER`."""
    case = new_case()
    for minute, command in enumerate(_PATHS[status], start=1):
        command(case, ctx(T0 + timedelta(minutes=minute)))
    assert case.status is status
    return case


# Each action with values that are valid in every state that allows it.
PERFORM: dict[Action, Callable[[Case, Context], None]] = {
    Action.TRIAGE: lambda c, x: c.triage(
        Category(InsuranceLine.HEALTH, InquiryKind.BENEFIT_STATUS), Priority.HIGH, "danang", x
    ),
    Action.ASSIGN: lambda c, x: c.assign("agent-2", x),
    Action.UNASSIGN: lambda c, x: c.unassign(x),
    Action.REPLY: lambda c, x: c.reply("Chúng tôi đang kiểm tra.", x),
    Action.NOTE: lambda c, x: c.note("Đã gọi điện cho BHXH quận.", x),
    Action.REQUEST_INFO: lambda c, x: c.request_info("Xin cho biết mã số BHXH.", x),
    Action.CITIZEN_MESSAGE: lambda c, x: c.citizen_message("Mã số của tôi là 0123456789.", x),
    Action.ESCALATE: lambda c, x: c.escalate("Khiếu nại lần hai.", x),
    Action.TRANSFER: lambda c, x: c.transfer("danang", "Người hỏi ở Đà Nẵng.", x),
    Action.RESOLVE: lambda c, x: c.resolve("answered", None, x),
    Action.REOPEN: lambda c, x: c.reopen("Người hỏi vẫn chưa nhận được sổ.", x, REOPEN_WINDOW),
    Action.CLOSE: lambda c, x: c.close(x),
    Action.MERGE: lambda c, x: c.merge(OTHER_CASE, x),
    Action.FEEDBACK: lambda c, x: c.record_feedback(5, "Cảm ơn.", x),
}


@pytest.mark.parametrize(
    ("status", "action"),
    list(product(Status, Action)),
    ids=[f"{s.value}-{a.path}" for s, a in product(Status, Action)],
)
def test_every_action_in_every_state_does_what_the_table_says(
    status: Status, action: Action
) -> None:
    case = case_in(status)
    version = case.version
    if (status, action) in TRANSITIONS:
        PERFORM[action](case, ctx(LATER))
        assert case.status is next_status(status, action)
        assert case.version == version + 1
        assert cast("Case.Event", case.pending_events[-1]).status == case.status.value
    else:
        with pytest.raises(ActionNotAllowed) as refused:
            PERFORM[action](case, ctx(LATER))
        assert refused.value.action is action
        assert refused.value.status is status
        assert refused.value.allowed == allowed_actions(status)
        assert f"cannot {action.path}: case CC-2026-000001 is {status.value};" in str(refused.value)
        assert (case.status, case.version) == (status, version)


def test_the_table_covers_every_action_and_lets_no_action_leave_merged() -> None:
    assert {action for (_, action) in TRANSITIONS} == set(Action)
    assert allowed_actions(Status.MERGED) == []


def test_the_main_path_runs_from_received_to_closed() -> None:
    steps = [
        (Status.RECEIVED, Action.TRIAGE, Status.TRIAGED),
        (Status.TRIAGED, Action.ASSIGN, Status.IN_PROGRESS),
        (Status.IN_PROGRESS, Action.REQUEST_INFO, Status.AWAITING_CITIZEN),
        (Status.AWAITING_CITIZEN, Action.CITIZEN_MESSAGE, Status.IN_PROGRESS),
        (Status.IN_PROGRESS, Action.RESOLVE, Status.RESOLVED),
        (Status.RESOLVED, Action.CLOSE, Status.CLOSED),
        (Status.CLOSED, Action.REOPEN, Status.IN_PROGRESS),
    ]
    for before, action, after in steps:
        assert next_status(before, action) is after


def test_attribute_changes_leave_the_status_unchanged() -> None:
    for status in (Status.IN_PROGRESS, Status.AWAITING_CITIZEN):
        for action in (Action.REPLY, Action.NOTE, Action.ESCALATE, Action.ASSIGN):
            assert next_status(status, action) is status


def test_giving_up_work_in_progress_sends_the_case_back_to_triaged() -> None:
    assert next_status(Status.IN_PROGRESS, Action.UNASSIGN) is Status.TRIAGED
    assert next_status(Status.IN_PROGRESS, Action.TRANSFER) is Status.TRIAGED
    assert next_status(Status.AWAITING_CITIZEN, Action.UNASSIGN) is Status.AWAITING_CITIZEN


def test_a_resolved_case_allows_closing_feedback_merging_notes_and_reopening() -> None:
    assert allowed_actions(Status.RESOLVED) == [
        Action.CLOSE,
        Action.FEEDBACK,
        Action.MERGE,
        Action.NOTE,
        Action.REOPEN,
    ]


def test_a_refusal_names_the_action_the_state_and_the_allowed_actions() -> None:
    case = case_in(Status.RESOLVED)
    with pytest.raises(ActionNotAllowed) as refused:
        case.reply("Còn một điều nữa.", ctx(LATER))
    assert str(refused.value) == (
        "cannot reply: case CC-2026-000001 is resolved; "
        "allowed actions: close, feedback, merge, note, reopen"
    )


def test_a_refusal_uses_the_hyphenated_action_names_of_the_api() -> None:
    case = case_in(Status.RECEIVED)
    with pytest.raises(ActionNotAllowed, match=r"^cannot request-info: .*citizen-message"):
        case.request_info("Xin gửi giấy tờ.", ctx(LATER))
