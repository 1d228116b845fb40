"""The rules a case keeps besides its lifecycle table: intake, values, windows, merges."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest

from casemgmt.domain import (
    Action,
    ActionNotAllowed,
    Actor,
    Case,
    Category,
    Channel,
    Context,
    InvalidCommand,
    Requester,
    RequesterKind,
    Role,
    Status,
)
from tests.unit.test_case_transitions import (
    LATER,
    OTHER_CASE,
    REOPEN_WINDOW,
    T0,
    case_in,
    ctx,
    new_case,
)

# -- intake -----------------------------------------------------------------------------------


def test_the_same_channel_and_external_ref_always_give_the_same_case_id() -> None:
    first = Case.id_for(Channel.EMAIL, "<msg-1@mail>")
    assert first == Case.id_for(Channel.EMAIL, "<msg-1@mail>")
    assert first == Case.id_for("email", "<msg-1@mail>")  # type: ignore[arg-type]  # as sent
    assert first != Case.id_for(Channel.EMAIL, "<msg-2@mail>")
    assert first != Case.id_for(Channel.WEB_PORTAL, "<msg-1@mail>")


def test_the_case_id_is_stable_across_releases() -> None:
    # Changing it would open a second case for every message already seen.
    assert str(Case.id_for(Channel.PHONE, "call-42")) == "78ade338-d2a5-56a4-bc3b-0e6cffe67e70"


def test_a_case_received_with_an_external_ref_must_use_its_intake_id() -> None:
    with pytest.raises(ValueError, match=r"is not Case\.id_for"):
        new_case(id=OTHER_CASE)


def test_a_received_case_starts_its_clocks_when_it_was_received() -> None:
    case = new_case()
    assert case.status is Status.RECEIVED
    assert case.received_at == T0 - timedelta(minutes=10)
    assert case.last_activity_at == T0
    assert case.requester.name == "Nguyễn Văn A"
    assert (case.assignee, case.escalation_level, case.merged_from) == (None, 0, [])


def test_received_at_defaults_to_the_moment_of_intake() -> None:
    assert new_case(received_at=None).received_at == T0


def test_received_at_a_little_ahead_of_our_clock_is_accepted() -> None:
    case = new_case(received_at=T0 + timedelta(minutes=5))
    assert case.received_at == T0 + timedelta(minutes=5)


def test_received_at_in_the_future_is_refused() -> None:
    with pytest.raises(InvalidCommand) as refused:
        new_case(received_at=T0 + timedelta(minutes=5, seconds=1))
    assert refused.value.field == "received_at"


def test_received_at_without_a_time_zone_is_refused() -> None:
    with pytest.raises(InvalidCommand) as refused:
        new_case(received_at=datetime(2026, 11, 24, 8, 0))
    assert refused.value.field == "received_at"


@pytest.mark.parametrize("field", ["subject", "reference"])
def test_a_case_needs_a_subject_and_a_reference(field: str) -> None:
    blank: dict[str, Any] = {field: "  "}
    with pytest.raises(InvalidCommand) as refused:
        new_case(**blank)
    assert refused.value.field == field


def test_an_unknown_channel_is_refused_naming_the_known_ones() -> None:
    with pytest.raises(InvalidCommand, match="not one of: phone, national_portal") as refused:
        new_case(channel="fax", external_ref=None, id=OTHER_CASE)  # type: ignore[arg-type]
    assert refused.value.field == "channel"


def test_an_empty_body_is_kept_as_no_body() -> None:
    assert new_case(body=" ").body is None


def test_a_requester_needs_a_name() -> None:
    with pytest.raises(InvalidCommand) as refused:
        Requester(RequesterKind.EMPLOYER, "0101234567", "")
    assert refused.value.field == "requester.name"


# -- context -------------------------------------------------------------------------------------


def test_a_context_needs_a_moment_with_a_time_zone() -> None:
    with pytest.raises(InvalidCommand) as refused:
        Context(Actor("agent-1", Role.AGENT), datetime(2026, 11, 24), "req-1", "api")
    assert refused.value.field == "at"


@pytest.mark.parametrize(("correlation_id", "cause"), [("", "api"), ("req-1", " ")])
def test_a_context_needs_a_correlation_id_and_a_cause(correlation_id: str, cause: str) -> None:
    with pytest.raises(InvalidCommand):
        Context(Actor("agent-1", Role.AGENT), T0, correlation_id, cause)


def test_an_actor_needs_an_id_and_a_known_role() -> None:
    with pytest.raises(InvalidCommand):
        Actor("", Role.AGENT)
    with pytest.raises(InvalidCommand):
        Actor("agent-1", "janitor")  # type: ignore[arg-type]  # as a request may send it
    assert Actor("agent-1", "agent").role is Role.AGENT  # type: ignore[arg-type]


# -- values of commands --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("command", "field"),
    [
        (lambda c: c.reply("", ctx(LATER)), "message"),
        (lambda c: c.note(" \n", ctx(LATER)), "text"),
        (lambda c: c.request_info("", ctx(LATER)), "message"),
        (lambda c: c.citizen_message("", ctx(LATER)), "message"),
        (lambda c: c.escalate("", ctx(LATER)), "reason"),
        (lambda c: c.transfer("danang", "", ctx(LATER)), "reason"),
        (lambda c: c.transfer("", "Khác đơn vị.", ctx(LATER)), "unit"),
        (lambda c: c.resolve("", "Đã trả lời.", ctx(LATER)), "resolution"),
        (lambda c: c.assign("", ctx(LATER)), "agent"),
    ],
)
def test_empty_values_are_refused_naming_the_field(
    command: Callable[[Case], object], field: str
) -> None:
    case = case_in(Status.IN_PROGRESS)
    with pytest.raises(InvalidCommand) as refused:
        command(case)
    assert refused.value.field == field
    assert case.version == case_in(Status.IN_PROGRESS).version


def test_the_first_reply_is_the_first_response() -> None:
    case = case_in(Status.IN_PROGRESS)
    case.reply("Chúng tôi đã nhận được.", ctx(LATER))
    case.reply("Sổ đã được gửi.", ctx(LATER + timedelta(hours=1)))
    assert case.first_replied_at == LATER
    assert [m.text for m in case.messages] == ["Chúng tôi đã nhận được.", "Sổ đã được gửi."]


def test_asking_for_information_is_not_yet_the_first_response() -> None:
    case = case_in(Status.AWAITING_CITIZEN)
    assert case.first_replied_at is None
    assert case.messages[-1].text == "Xin gửi bản sao CCCD."


def test_each_escalation_raises_the_level_by_one() -> None:
    case = case_in(Status.TRIAGED)
    case.escalate("Khiếu nại.", ctx(LATER))
    case.escalate("Khiếu nại lần hai.", ctx(LATER))
    assert case.escalation_level == 2


def test_triage_records_category_priority_and_unit() -> None:
    case = new_case()
    # The plain values an API request carries, which the case turns into its enums.
    category = Category("health", "complaint")  # type: ignore[arg-type]
    case.triage(category, "urgent", "danang", ctx(LATER))  # type: ignore[arg-type]
    assert (case.category.line, case.category.kind) == ("health", "complaint")
    assert (case.priority, case.unit, case.status) == ("urgent", "danang", Status.TRIAGED)


def test_assigning_the_agent_who_has_the_case_is_refused() -> None:
    case = case_in(Status.IN_PROGRESS)
    with pytest.raises(InvalidCommand) as refused:
        case.assign("agent-1", ctx(LATER))
    assert refused.value.field == "agent"


def test_reassigning_keeps_the_status_and_changes_the_assignee() -> None:
    case = case_in(Status.AWAITING_CITIZEN)
    case.assign("agent-2", ctx(LATER))
    assert (case.assignee, case.status) == ("agent-2", Status.AWAITING_CITIZEN)


def test_transferring_to_the_units_own_unit_is_refused() -> None:
    case = case_in(Status.TRIAGED)
    with pytest.raises(InvalidCommand) as refused:
        case.transfer("hanoi", "Nhầm.", ctx(LATER))
    assert refused.value.field == "unit"


def test_a_transfer_moves_the_case_and_clears_its_agent() -> None:
    case = case_in(Status.AWAITING_CITIZEN)
    case.transfer("danang", "Hồ sơ ở Đà Nẵng.", ctx(LATER))
    assert (case.unit, case.assignee, case.status) == ("danang", None, Status.AWAITING_CITIZEN)


def test_unassigning_when_nobody_is_assigned_is_refused() -> None:
    case = case_in(Status.AWAITING_CITIZEN)
    case.transfer("danang", "Hồ sơ ở Đà Nẵng.", ctx(LATER))
    assert Action.UNASSIGN not in case.allowed_actions()
    with pytest.raises(ActionNotAllowed, match="has nobody assigned") as refused:
        case.unassign(ctx(LATER))
    assert refused.value.status is Status.AWAITING_CITIZEN
    assert Action.UNASSIGN not in refused.value.allowed


# -- resolution, reopening, feedback -------------------------------------------------------------


def test_resolving_records_the_resolution_and_reopening_clears_it() -> None:
    case = case_in(Status.RESOLVED)
    assert (case.resolution, case.resolved_at) == ("answered", T0 + timedelta(minutes=4))
    case.reopen("Chưa nhận được sổ.", ctx(LATER), REOPEN_WINDOW)
    assert (case.status, case.resolution, case.resolved_at) == (Status.IN_PROGRESS, None, None)
    assert case.assignee == "agent-1"


def test_a_resolved_case_can_be_reopened_whenever() -> None:
    case = case_in(Status.RESOLVED)
    case.reopen("Vẫn chưa nhận được.", ctx(LATER + timedelta(days=365)), REOPEN_WINDOW)
    assert case.status is Status.IN_PROGRESS


@pytest.mark.parametrize("after", [timedelta(days=1), REOPEN_WINDOW])
def test_a_closed_case_can_be_reopened_within_the_window(after: timedelta) -> None:
    case = case_in(Status.CLOSED)
    closed_at = case.closed_at  # not narrowed on the case: reopening clears it
    assert closed_at is not None
    case.reopen("Vẫn chưa nhận được.", ctx(closed_at + after), REOPEN_WINDOW)
    assert (case.status, case.closed_at) == (Status.IN_PROGRESS, None)


def test_a_closed_case_cannot_be_reopened_after_the_window() -> None:
    case = case_in(Status.CLOSED)
    assert case.closed_at is not None
    too_late = case.closed_at + REOPEN_WINDOW + timedelta(seconds=1)
    with pytest.raises(ActionNotAllowed, match="longer ago than the reopen window of 30 days") as e:
        case.reopen("Vẫn chưa nhận được.", ctx(too_late), REOPEN_WINDOW)
    assert e.value.status is Status.CLOSED
    assert e.value.allowed == [Action.FEEDBACK, Action.NOTE]


@pytest.mark.parametrize("score", [0, 6, 7, -1, True, 2.5, "5"])
def test_feedback_scores_run_from_one_to_five(score: Any) -> None:
    case = case_in(Status.RESOLVED)
    with pytest.raises(InvalidCommand) as refused:
        case.record_feedback(score, None, ctx(LATER))
    assert refused.value.field == "score"


def test_later_feedback_replaces_earlier_feedback() -> None:
    case = case_in(Status.CLOSED)
    case.record_feedback(2, "Chậm.", ctx(LATER))
    case.record_feedback(4, None, ctx(LATER + timedelta(days=1)))
    assert case.feedback is not None
    assert (case.feedback.score, case.feedback.comment) == (4, None)
    assert case.feedback.at == LATER + timedelta(days=1)


# -- merging -------------------------------------------------------------------------------------


def test_a_merge_links_the_merged_case_and_its_survivor_both_ways() -> None:
    duplicate = new_case(external_ref="<msg-2@mail>")
    survivor = case_in(Status.IN_PROGRESS)
    duplicate.merge(survivor.id, ctx(LATER))
    survivor.record_merge(duplicate.id, ctx(LATER))
    assert (duplicate.status, duplicate.merged_into) == (Status.MERGED, survivor.id)
    assert survivor.merged_from == [duplicate.id]
    assert survivor.status is Status.IN_PROGRESS


def test_a_case_cannot_be_merged_into_itself() -> None:
    case = new_case()
    with pytest.raises(InvalidCommand) as refused:
        case.merge(case.id, ctx(LATER))
    assert refused.value.field == "into"


def test_a_case_cannot_be_merged_into_a_merged_case() -> None:
    merged = case_in(Status.MERGED)
    with pytest.raises(InvalidCommand, match="is itself merged") as refused:
        merged.record_merge(OTHER_CASE, ctx(LATER))
    assert refused.value.field == "into"


def test_a_closed_case_can_survive_a_merge() -> None:
    survivor = case_in(Status.CLOSED)
    survivor.record_merge(OTHER_CASE, ctx(LATER))
    assert (survivor.status, survivor.merged_from) == (Status.CLOSED, [OTHER_CASE])


# -- actions in URLs -----------------------------------------------------------------------------


def test_actions_are_parsed_from_their_hyphenated_url_form() -> None:
    assert Action.from_path("request-info") is Action.REQUEST_INFO
    assert Action.from_path("citizen-message") is Action.CITIZEN_MESSAGE
    assert Action.from_path("reply") is Action.REPLY
    assert Action.CITIZEN_MESSAGE.path == "citizen-message"
    for wrong in ("request_info", "delete", ""):
        with pytest.raises(ValueError, match="is not an action"):
            Action.from_path(wrong)
