"""A case through the API from intake to closure, its history, and reads of its past states."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from uuid import UUID

import pytest

from casemgmt.domain import Channel
from casemgmt.domain.sla import ClockName
from tests.e2e.conftest import Caller, inquiry, open_case

if TYPE_CHECKING:
    from casemgmt.bootstrap import Container
    from casemgmt.domain.sla import SlaClock

FIRST_RESPONSE, RESOLUTION = ClockName.FIRST_RESPONSE, ClockName.RESOLUTION


@pytest.mark.parametrize("channel", [c.value for c in Channel])
def test_a_case_from_each_channel_is_worked_to_closed_and_rated(
    channel: str, intake: Caller, agent: Caller, supervisor: Caller
) -> None:
    opened = intake.post("/api/v1/cases", inquiry(channel, category={}))
    assert opened.status_code == 201
    case_id = opened.get_json()["id"]
    case = supervisor.get(f"/api/v1/cases/{case_id}").get_json()
    assert opened.headers["ETag"] == '"3"'  # Received, then SlaClockStarted for each clock
    assert opened.headers["Location"].endswith(f"/api/v1/cases/{case_id}")
    assert (case["status"], case["channel"], case["queue"]) == ("received", channel, None)
    assert clock_states(case) == {
        "first_response": ("running", "PT8H"),
        "resolution": ("running", "P5D"),
    }
    assert case["reference"].startswith("CC-")

    # Each step with the version after it: its event, then the SLA events it brings about.
    steps = [
        (
            supervisor,
            "triage",
            {
                "category": {"line": "health", "kind": "benefit_status"},
                "priority": "high",
                "unit": "hcmc",
            },
            "triaged",
            6,  # Triaged, SlaDeadlineRecomputed ×2 (high: PT4H and P3D)
        ),
        (agent, "assign", {}, "in_progress", 7),
        (agent, "reply", {"message": "Chúng tôi đang kiểm tra hồ sơ."}, "in_progress", 9),
        (agent, "request-info", {"message": "Xin gửi số CCCD."}, "awaiting_citizen", 11),
        (intake, "citizen-message", {"message": "Số CCCD: 001234567890"}, "in_progress", 13),
        (agent, "note", {"text": "Hồ sơ đầy đủ"}, "in_progress", 14),
        (
            agent,
            "resolve",
            {"resolution": "Sổ đã được gửi", "summary": "gửi lại"},
            "resolved",
            17,  # Resolved, SlaClockStopped (resolution), SurveyRequested
        ),
        (agent, "close", {}, "closed", 18),
        (intake, "feedback", {"score": 5, "comment": "Rất tốt"}, "closed", 19),
    ]
    etag = opened.headers["ETag"]
    for who, action, body, status, version in steps:
        response = who.act(case_id, action, body, **{"If-Match": etag})
        assert response.status_code == 200, (action, response.get_json())
        assert response.get_json()["status"] == status
        etag = response.headers["ETag"]
        assert etag == f'"{version}"', action

    case = agent.get(f"/api/v1/cases/{case_id}").get_json()
    history = agent.get(f"/api/v1/cases/{case_id}/history").get_json()
    assert [entry["type"] for entry in history] == [
        "Received",
        "SlaClockStarted",
        "SlaClockStarted",
        "Triaged",
        "SlaDeadlineRecomputed",
        "SlaDeadlineRecomputed",
        "Assigned",
        "Replied",
        "SlaClockStopped",  # first_response: the first message out
        "InformationRequested",
        "SlaClockPaused",  # resolution: the case awaits the citizen
        "CitizenMessageReceived",
        "SlaClockResumed",
        "NoteAdded",
        "Resolved",
        "SlaClockStopped",
        "SurveyRequested",  # through the channel the case came in by
        "Closed",
        "FeedbackRecorded",
    ]
    assert [entry["data"].get("clock") for entry in history if "Sla" in entry["type"]] == [
        "first_response",
        "resolution",
        "first_response",
        "resolution",
        "first_response",
        "resolution",
        "resolution",
        "resolution",
    ]
    assert case["assignee"] == agent.name
    assert case["category"] == {"line": "health", "kind": "benefit_status"}
    assert (case["priority"], case["unit"]) == ("high", "hcmc")
    assert clock_states(case) == {
        "first_response": ("met", "PT4H"),
        "resolution": ("met", "P3D"),
    }
    assert [m["direction"] for m in case["messages"]] == ["out", "out", "in"]
    assert case["notes"][0]["author"] == agent.name
    assert case["resolution"] == "Sổ đã được gửi"
    assert case["feedback"]["score"] == 5
    assert case["first_replied_at"] is not None
    assert case["closed_at"] is not None
    assert case["allowed_actions"] == ["feedback", "note", "reopen"]


def clock_states(case: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """Each SLA clock of a case view: its state and its target."""
    return {name: (clock["state"], clock["target"]) for name, clock in case["sla"].items()}


def test_the_history_names_every_event_with_its_actor_and_data(
    intake: Caller, agent: Caller
) -> None:
    case = open_case(intake, channel="phone")
    agent.act(case["id"], "assign", {}, **{"X-Correlation-ID": "call-42"})
    on_behalf = {"X-On-Behalf-Of": "Nguyễn Văn A"}  # the requester, by name
    agent.act(case["id"], "escalate", {"reason": "khiếu nại"}, **on_behalf)

    history = agent.get(f"/api/v1/cases/{case['id']}/history").get_json()

    assert [(e["type"], e["version"]) for e in history] == [
        ("Received", 1),
        ("SlaClockStarted", 2),
        ("SlaClockStarted", 3),
        ("Assigned", 4),
        ("Escalated", 5),
    ]
    received, first_response, resolution, assigned, escalated = history
    assert received["actor"] == {"id": intake.name, "role": "intake", "on_behalf_of": None}
    assert received["cause"] == "channel:phone"
    assert received["data"]["subject"] == "Chưa nhận được sổ BHXH"
    for started, clock, target in (
        (first_response, "first_response", "PT8H"),
        (resolution, "resolution", "P5D"),
    ):
        # Recorded with the intake, by the same actor, for the same cause and request.
        envelope = ("actor", "cause", "correlation_id", "timestamp", "status")
        assert [started[key] for key in envelope] == [received[key] for key in envelope]
        assert (started["data"]["clock"], started["data"]["state"]["target"]) == (clock, target)
        assert started["data"]["state"]["started_at"] == received["data"]["received_at"]
    assert assigned["correlation_id"] == "call-42"
    assert assigned["data"] == {"agent": agent.name, "previous_agent": None}
    assert (assigned["cause"], assigned["status"]) == ("api", "in_progress")
    assert escalated["actor"]["on_behalf_of"] == "requester"  # not their name, kept in the case
    assert escalated["data"] == {"reason": "khiếu nại", "level": 1}


def test_the_correlation_id_is_echoed_or_made(intake: Caller) -> None:
    given = intake.client.get("/api/v1/health", headers={"X-Correlation-ID": "req-7"})
    made = intake.client.get("/api/v1/health")

    assert given.headers["X-Correlation-ID"] == "req-7"
    assert len(made.headers["X-Correlation-ID"]) == 36


def test_the_same_external_ref_twice_gives_one_case(intake: Caller) -> None:
    body = inquiry("email")

    first = intake.post("/api/v1/cases", body)
    again = intake.post("/api/v1/cases", body)
    changed = intake.post("/api/v1/cases", {**body, "subject": "Fwd: " + body["subject"]})

    assert (first.status_code, again.status_code, changed.status_code) == (201, 200, 409)
    assert again.get_json()["id"] == first.get_json()["id"]
    assert again.get_json()["messages"][0]["text"].startswith(body["subject"])
    assert changed.get_json()["fields"] == ["subject"]
    assert again.headers["Location"] == first.headers["Location"]


def test_the_same_external_ref_on_another_channel_is_another_case(intake: Caller) -> None:
    body = inquiry("email")

    first = intake.post("/api/v1/cases", body)
    other = intake.post("/api/v1/cases", {**body, "channel": "post"})

    assert (first.status_code, other.status_code) == (201, 201)
    assert other.get_json()["id"] != first.get_json()["id"]


def test_a_case_reads_as_it_was_at_a_version_and_at_a_moment(
    intake: Caller, agent: Caller, auditor: Caller
) -> None:
    case = open_case(intake)  # versions 1-3: Received, SlaClockStarted ×2
    path = f"/api/v1/cases/{case['id']}"
    assigned = agent.act(case["id"], "assign", {})  # 4: Assigned
    agent.act(case["id"], "reply", {"message": "Đang xử lý"})  # 5-6: Replied, SlaClockStopped
    history = auditor.get(f"{path}/history").get_json()
    (assignment,) = [entry for entry in history if entry["type"] == "Assigned"]
    assigned_at = datetime.fromisoformat(assignment["timestamp"])

    at_version = auditor.get(path, query_string={"version": assignment["version"]})
    at_moment = auditor.get(path, query_string={"as_of": assigned_at.isoformat()})
    just_before = auditor.get(
        path, query_string={"as_of": (assigned_at - timedelta(microseconds=1)).isoformat()}
    )
    now = auditor.get(path)

    assert at_version.status_code == 200
    assert at_version.headers["ETag"] == assigned.headers["ETag"] == '"4"'
    assert (at_version.get_json()["status"], at_version.get_json()["messages"]) == (
        "in_progress",
        [],
    )
    assert at_moment.get_json() == at_version.get_json()
    assert just_before.get_json()["version"] == case["version"] == 3
    assert now.get_json()["version"] == 6
    assert len(now.get_json()["messages"]) == 1


def test_the_case_view_shows_each_sla_clock_as_it_stands(
    container: Container, intake: Caller, agent: Caller, auditor: Caller
) -> None:
    office = container.sla_policy.calendars["office"]
    before = container.clock()
    case = open_case(intake)  # social/procedure, normal: the built-in catch-all, PT8H and P5D
    after = container.clock()
    path = f"/api/v1/cases/{case['id']}"
    started = container.care_centre.get_case(UUID(case["id"])).clocks

    opened = shown(case)
    for name, clock in started.items():
        # Shown at the moment of the response, between `before` and `after`.
        least = int(office.working_time_between(after, clock.due).total_seconds())
        most = int(office.working_time_between(before, clock.due).total_seconds())
        remaining = opened[name.value]["remaining_seconds"]
        assert 0 < least <= remaining <= most, name
        assert opened[name.value] == as_shown(clock, "running", remaining)
    assert {name: clock["target"] for name, clock in opened.items()} == {
        "first_response": "PT8H",
        "resolution": "P5D",
    }

    agent.act(case["id"], "assign", {})
    asked = agent.act(case["id"], "request-info", {"message": "Xin gửi số CCCD."})
    clocks = container.care_centre.get_case(UUID(case["id"])).clocks

    assert asked.status_code == 200
    # The first message out meets the first response; the resolution waits for the citizen.
    assert shown(asked.get_json()) == {
        "first_response": as_shown(clocks[FIRST_RESPONSE], "met"),
        "resolution": as_shown(clocks[RESOLUTION], "paused"),
    }
    history = auditor.get(f"{path}/history").get_json()
    (request,) = [entry for entry in history if entry["type"] == "InformationRequested"]
    requested_at = datetime.fromisoformat(request["timestamp"])
    for name in ClockName:  # both ran from the receipt to the request, under the same terms
        assert clocks[name].due == started[name].due, name
        used = office.working_time_between(started[name].started_at, requested_at)
        assert clocks[name].used == used, name
    assert clocks[FIRST_RESPONSE].stopped_at == requested_at

    moment = requested_at - timedelta(microseconds=1)
    then = auditor.get(path, query_string={"as_of": moment.isoformat()}).get_json()

    assert (then["version"], then["status"]) == (request["version"] - 1, "in_progress")
    assert shown(then) == {
        name.value: as_shown(
            clock,
            "running",
            int(office.working_time_between(moment, clock.due).total_seconds()),
        )
        for name, clock in started.items()
    }


def shown(case: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The case view's `sla`, its deadlines as datetimes."""
    return {
        name: {**clock, "due": datetime.fromisoformat(clock["due"])}
        for name, clock in case["sla"].items()
    }


def as_shown(clock: SlaClock, state: str, remaining: int | None = None) -> dict[str, Any]:
    """How the case view shows a clock; a stopped or paused one has its unused allowance left."""
    left = clock.allowance - clock.used
    return {
        "due": clock.due,
        "state": state,
        "remaining_seconds": int(left.total_seconds()) if remaining is None else remaining,
        "target": clock.terms.target,
        "calendar": "office",
        "policy_version": "vn-default-2026.1",
    }


def test_a_case_before_it_was_received_or_past_its_last_version_is_not_found(
    intake: Caller, auditor: Caller
) -> None:
    case = open_case(intake)
    path = f"/api/v1/cases/{case['id']}"
    before = datetime.fromisoformat(case["received_at"]) - timedelta(days=1)

    assert auditor.get(path, query_string={"as_of": before.isoformat()}).status_code == 404
    assert auditor.get(path, query_string={"version": 9}).status_code == 404


def test_a_merged_case_links_both_ways(intake: Caller, supervisor: Caller) -> None:
    duplicate, survivor = open_case(intake), open_case(intake)

    merged = supervisor.act(duplicate["id"], "merge", {"into": survivor["id"]})
    survivor_now = supervisor.get(f"/api/v1/cases/{survivor['id']}").get_json()

    assert merged.status_code == 200
    assert merged.get_json()["status"] == "merged"
    assert merged.get_json()["links"] == {"merged_into": survivor["id"], "merged_from": []}
    assert survivor_now["links"]["merged_from"] == [duplicate["id"]]
    assert merged.get_json()["allowed_actions"] == []
