"""A history written in one go (`draft_case`, `act_on`, one save: what `casemgmt demo` does) is the
history the same commands store one by one through `open_case` and `act`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest

from casemgmt.application import CareCentre, CaseNotFound
from casemgmt.domain import (
    Action,
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
from casemgmt.policy_file import load_policy
from tests.support.fakes import CountingReferences

if TYPE_CHECKING:
    from casemgmt.domain import Case

IN_MEMORY = {"PERSISTENCE_MODULE": "eventsourcing.popo"}
T0 = datetime(2026, 11, 23, 1, 30, tzinfo=UTC)  # a Monday morning in Hanoi
INTAKE = Actor("mail-gateway", Role.INTAKE)
SUPERVISOR = Actor("mai.tran", Role.SUPERVISOR)
AGENT = Actor("agent-1", Role.AGENT)
PROCEDURE = Category(InsuranceLine.SOCIAL, "procedure")
# Each step: minutes after T0, who, the action, its body.
STORY: list[tuple[int, Actor, Action, dict[str, Any]]] = [
    (30, SUPERVISOR, Action.TRIAGE, {"category": PROCEDURE, "priority": Priority.HIGH}),
    (45, AGENT, Action.ASSIGN, {}),
    (60, AGENT, Action.REQUEST_INFO, {"message": "Đề nghị cung cấp mã số BHXH."}),
    (2000, INTAKE, Action.CITIZEN_MESSAGE, {"message": "Mã số BHXH của tôi là 0123456789."}),
    (2100, AGENT, Action.ESCALATE, {"reason": "Cần ý kiến phòng chế độ."}),
    (2200, AGENT, Action.REPLY, {"message": "BHXH đã hướng dẫn như sau."}),
    (9000, AGENT, Action.RESOLVE, {"resolution": "answered", "summary": None}),
    (9100, INTAKE, Action.FEEDBACK, {"score": 5, "comment": "Cảm ơn."}),
]


def centre() -> CareCentre:
    return CareCentre(env=IN_MEMORY, references=CountingReferences(), sla_policy=load_policy(None))


def inquiry(external_ref: str) -> dict[str, Any]:
    return {
        "channel": Channel.EMAIL,
        "external_ref": external_ref,
        "subject": "Chưa nhận được sổ BHXH",
        "body": "Tôi đã nộp hồ sơ từ tháng trước.",
        "requester": Requester(RequesterKind.CITIZEN, external_ref, "Nguyễn Văn A"),
        "unit": "hanoi",
        "received_at": T0,
        "ctx": Context(INTAKE, T0, f"intake-{external_ref}", "api"),
    }


def at(minutes: int, actor: Actor) -> Context:
    return Context(actor, T0 + timedelta(minutes=minutes), f"req-{minutes}", "api")


def history(app: CareCentre, case: Case) -> list[tuple[str, dict[str, Any]]]:
    return [(type(event).__name__, vars(event)) for event in app.history(case.id)]


def test_a_story_written_in_one_go_is_the_story_the_commands_store_one_by_one() -> None:
    one_by_one, in_one_go = centre(), centre()
    stored, _ = one_by_one.open_case(**inquiry("<a@mail>"))
    duplicate, _ = one_by_one.open_case(**inquiry("<b@mail>"))
    drafted = in_one_go.draft_case(**inquiry("<a@mail>"))
    drafted_duplicate = in_one_go.draft_case(**inquiry("<b@mail>"))
    for minutes, actor, action, body in STORY:
        one_by_one.act(stored.id, action, at(minutes, actor), **body)
        in_one_go.act_on(drafted, action, at(minutes, actor), **body)
    one_by_one.act(duplicate.id, Action.TRIAGE, at(10, SUPERVISOR), **STORY[0][3])
    one_by_one.act(duplicate.id, Action.MERGE, at(9200, SUPERVISOR), into=stored.id)
    in_one_go.act_on(drafted_duplicate, Action.TRIAGE, at(10, SUPERVISOR), **STORY[0][3])
    merged = in_one_go.act_on(
        drafted_duplicate,
        Action.MERGE,
        at(9200, SUPERVISOR),
        at_hand={drafted.id: drafted},
        into=drafted.id,
    )
    assert merged == [drafted]
    in_one_go.save(drafted, drafted_duplicate)
    assert history(in_one_go, drafted) == history(one_by_one, stored)
    assert history(in_one_go, drafted_duplicate) == history(one_by_one, duplicate)
    kinds = [kind for kind, _ in history(in_one_go, drafted)]
    assert "SlaClockPaused" in kinds and "SurveyRequested" in kinds and "MergeRecorded" in kinds


def test_an_intake_account_may_not_act_on_a_drafted_case_another_opened() -> None:
    app = centre()
    case = app.draft_case(**inquiry("<a@mail>"))
    for minutes, actor, action, body in STORY[:3]:
        app.act_on(case, action, at(minutes, actor), **body)
    stranger = Actor("other-gateway", Role.INTAKE)
    with pytest.raises(CaseNotFound):
        app.act_on(case, Action.CITIZEN_MESSAGE, at(2000, stranger), message="Tôi là ai?")
    app.act_on(case, Action.CITIZEN_MESSAGE, at(2000, INTAKE), message="Mã số là 0123456789.")
    assert case.status.value == "in_progress"
