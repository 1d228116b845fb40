"""What an event changed, in words: the case replayed event by event, a few attributes compared."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING

from casemgmt.application import CareCentre
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
from casemgmt.readmodels.audit_entry import (
    EVENT_TYPES,
    MAX_VALUE_CHARS,
    changes,
    readable,
    readable_history,
)
from tests.support.fakes import CountingReferences

if TYPE_CHECKING:
    from uuid import UUID

HANOI = timezone(timedelta(hours=7))
T0 = datetime(2026, 11, 24, 8, 15, tzinfo=HANOI)
ADMIN = Actor("mai.tran", Role.ADMIN)
CITIZEN = Requester(RequesterKind.CITIZEN, "0123456789", "Nguyễn Văn A")


def at(minutes: float) -> Context:
    return Context(ADMIN, T0 + timedelta(minutes=minutes), f"req-{minutes}", "api")


def new_centre() -> CareCentre:
    return CareCentre({"PERSISTENCE_MODULE": "eventsourcing.popo"}, references=CountingReferences())


def opened(app: CareCentre, minutes: float = 0) -> UUID:
    case, _ = app.open_case(
        channel=Channel.PHONE,
        subject="Hỏi về BHTN",
        requester=CITIZEN,
        unit="hanoi",
        ctx=at(minutes),
    )
    return case.id


def test_only_what_differs_is_named_old_then_new_with_a_dash_for_nothing() -> None:
    before = readable(None)
    after = {**before, "status": "received", "assignee": "lan.nguyen"}

    assert changes(before, after) == ["status: — → received", "assignee: — → lan.nguyen"]
    assert changes(after, after) == []


def test_escalation_merge_feedback_and_a_long_resolution_read_as_words() -> None:
    app = new_centre()
    duplicate, survivor = opened(app), opened(app, 1)
    app.act(survivor, Action.ESCALATE, at(2), reason="gọi lại nhiều lần")
    app.act(survivor, Action.ASSIGN, at(3), agent="lan.nguyen")
    app.act(survivor, Action.RESOLVE, at(4), resolution="Đã trả lời " * 20, summary=None)
    app.act(survivor, Action.FEEDBACK, at(5), score=4, comment=None)
    app.act(duplicate, Action.MERGE, at(6), into=survivor)

    said = {
        type(event).__name__: words
        for case_id in (survivor, duplicate)
        for event, words in readable_history(app.history(case_id))
    }

    assert said["Escalated"] == ["escalation level: 0 → 1"]
    (resolution,) = [w for w in said["Resolved"] if w.startswith("resolution: ")]
    assert len(resolution.removeprefix("resolution: — → ")) == MAX_VALUE_CHARS
    assert resolution.endswith("…")
    assert said["FeedbackRecorded"] == ["feedback: — → 4/5"]
    assert said["MergedInto"] == ["status: received → merged", f"merged into: — → {survivor}"]
    assert said["MergeRecorded"] == [f"merged from: — → {duplicate}"]


def test_triage_names_priority_category_and_status() -> None:
    app = new_centre()
    case_id = opened(app)
    category = Category(InsuranceLine.HEALTH, InquiryKind.COMPLAINT)
    app.act(case_id, Action.TRIAGE, at(1), category=category, priority=Priority.URGENT, unit=None)

    (_, received), (_, triaged) = readable_history(app.history(case_id))

    assert "unit: — → hanoi" in received
    assert triaged == [
        "status: received → triaged",
        "priority: normal → urgent",
        "category: — → health/complaint",
    ]


def test_every_event_type_is_named_and_none_twice() -> None:
    assert "Received" in EVENT_TYPES
    assert "Created" not in EVENT_TYPES
    assert len(set(EVENT_TYPES)) == len(EVENT_TYPES)
