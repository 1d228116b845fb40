"""Every event says who, how, why and when, in values any store can keep (rule 3)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, cast
from uuid import UUID

from casemgmt.domain import (
    Actor,
    Case,
    Category,
    Context,
    Direction,
    InquiryKind,
    InsuranceLine,
    Priority,
    Role,
)
from tests.unit.test_case_transitions import AGENT, INTAKE, REOPEN_WINDOW, T0, new_case

SUPERVISOR = Actor("supervisor-1", Role.SUPERVISOR)
CITIZEN_BY_MAIL = Actor("mail-gateway", Role.INTAKE, on_behalf_of="0123456789")
TIMER = Actor("sla-timer", Role.SYSTEM)

# A whole life, each command with its own actor, cause and correlation id.
LIFE: list[tuple[Actor, str, Callable[[Case, Context], None]]] = [
    (
        SUPERVISOR,
        "rule:routing",
        lambda c, x: c.triage(
            Category(InsuranceLine.SOCIAL, InquiryKind.PROCEDURE), Priority.HIGH, None, x
        ),
    ),
    (SUPERVISOR, "api", lambda c, x: c.assign("agent-1", x)),
    (AGENT, "api", lambda c, x: c.note("Tra cứu hồ sơ.", x)),
    (AGENT, "api", lambda c, x: c.reply("Chúng tôi đang kiểm tra.", x)),
    (AGENT, "api", lambda c, x: c.request_info("Xin gửi bản sao CCCD.", x)),
    (CITIZEN_BY_MAIL, "channel:email", lambda c, x: c.citizen_message("Đã gửi.", x)),
    (TIMER, "timer:sla", lambda c, x: c.escalate("Sắp quá hạn.", x)),
    (SUPERVISOR, "api", lambda c, x: c.transfer("danang", "Hồ sơ ở Đà Nẵng.", x)),
    (SUPERVISOR, "api", lambda c, x: c.assign("agent-7", x)),
    (SUPERVISOR, "api", lambda c, x: c.unassign(x)),
    (SUPERVISOR, "api", lambda c, x: c.assign("agent-7", x)),
    (AGENT, "api", lambda c, x: c.resolve("answered", "Đã gửi sổ.", x)),
    (CITIZEN_BY_MAIL, "channel:email", lambda c, x: c.reopen("Chưa nhận.", x, REOPEN_WINDOW)),
    (AGENT, "api", lambda c, x: c.resolve("answered", None, x)),
    (AGENT, "api", lambda c, x: c.close(x)),
    (CITIZEN_BY_MAIL, "channel:email", lambda c, x: c.record_feedback(4, "Hơi chậm.", x)),
]


def live_a_whole_life() -> tuple[Case, list[Context]]:
    case = new_case()
    contexts = []
    for minute, (actor, cause, command) in enumerate(LIFE, start=1):
        context = Context(actor, T0 + timedelta(minutes=minute), f"req-{minute}", cause)
        command(case, context)
        contexts.append(context)
    return case, contexts


def test_every_event_carries_its_actor_cause_correlation_id_and_moment() -> None:
    case, contexts = live_a_whole_life()
    received, *events = cast("list[Case.Event]", case.pending_events)
    assert received.actor == INTAKE.as_dict()
    assert received.cause == "channel:email"
    assert received.timestamp == T0
    assert len(events) == len(contexts)
    for event, context in zip(events, contexts, strict=True):
        assert event.timestamp == context.at
        assert event.actor == context.actor.as_dict()
        assert event.cause == context.cause
        assert event.correlation_id == context.correlation_id


def test_the_actor_says_on_whose_behalf_it_acted() -> None:
    case, _ = live_a_whole_life()
    events = cast("list[Case.Event]", case.pending_events)
    message = next(e for e in events if type(e).__name__ == "CitizenMessageReceived")
    assert message.actor == {
        "id": "mail-gateway",
        "role": "intake",
        "on_behalf_of": "0123456789",
    }
    inbound = [m for m in case.messages if m.direction is Direction.IN]
    assert [m.author for m in inbound] == ["0123456789"]


def test_events_carry_only_json_native_values_datetimes_and_uuids() -> None:
    case, _ = live_a_whole_life()
    other = new_case(external_ref="<msg-2@mail>")
    other.merge(case.id, Context(AGENT, T0, "req-m", "api"))
    case.record_merge(other.id, Context(AGENT, T0, "req-m", "api"))
    for event in [*case.pending_events, *other.pending_events]:
        for name, value in vars(event).items():
            assert _is_json_native(value), f"{type(event).__name__}.{name} = {value!r}"


def test_events_are_named_in_the_past_tense_as_integrations_expect() -> None:
    case, _ = live_a_whole_life()
    other = new_case(external_ref="<msg-2@mail>")
    other.merge(case.id, Context(AGENT, T0, "req-m", "api"))
    case.record_merge(other.id, Context(AGENT, T0, "req-m", "api"))
    names = {type(e).__name__ for e in [*case.pending_events, *other.pending_events]}
    assert names == {
        "Received",
        "Triaged",
        "Assigned",
        "Unassigned",
        "Replied",
        "NoteAdded",
        "InformationRequested",
        "CitizenMessageReceived",
        "Escalated",
        "Transferred",
        "Resolved",
        "Reopened",
        "Closed",
        "MergedInto",
        "MergeRecorded",
        "FeedbackRecorded",
    }


def test_every_event_says_what_status_the_case_is_in_after_it() -> None:
    case = new_case()
    statuses = []
    for minute, (actor, cause, command) in enumerate(LIFE, start=1):
        command(case, Context(actor, T0 + timedelta(minutes=minute), "req", cause))
        statuses.append(case.status.value)
    events = cast("list[Case.Event]", case.pending_events)
    assert [e.status for e in events[1:]] == statuses


def test_replaying_the_events_rebuilds_the_same_case() -> None:
    case, _ = live_a_whole_life()
    replayed: Case | None = None
    for event in case.collect_events():
        replayed = event.mutate(replayed)
    assert replayed == case


def _is_json_native(value: Any) -> bool:
    if value is None or type(value) in (str, int, float, bool):  # not a StrEnum, say
        return True
    if isinstance(value, datetime | UUID):
        return True
    if isinstance(value, list):
        return all(_is_json_native(item) for item in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _is_json_native(v) for k, v in value.items())
    return False
