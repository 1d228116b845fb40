"""A case through the API from intake to closure, its history, and reads of its past states."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from casemgmt.domain import Channel
from tests.e2e.conftest import Caller, inquiry, open_case


@pytest.mark.parametrize("channel", [c.value for c in Channel])
def test_a_case_from_each_channel_is_worked_to_closed_and_rated(
    channel: str, intake: Caller, agent: Caller, supervisor: Caller
) -> None:
    opened = intake.post("/api/v1/cases", inquiry(channel, category={}))
    assert opened.status_code == 201
    case = opened.get_json()
    case_id = case["id"]
    assert opened.headers["ETag"] == '"1"'
    assert opened.headers["Location"].endswith(f"/api/v1/cases/{case_id}")
    assert (case["status"], case["channel"], case["queue"], case["sla"]) == (
        "received",
        channel,
        None,
        {},
    )
    assert case["reference"].startswith("CC-")

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
        ),
        (agent, "assign", {}, "in_progress"),
        (agent, "reply", {"message": "Chúng tôi đang kiểm tra hồ sơ."}, "in_progress"),
        (agent, "request-info", {"message": "Xin gửi số CCCD."}, "awaiting_citizen"),
        (intake, "citizen-message", {"message": "Số CCCD: 001234567890"}, "in_progress"),
        (agent, "note", {"text": "Hồ sơ đầy đủ"}, "in_progress"),
        (agent, "resolve", {"resolution": "Sổ đã được gửi", "summary": "gửi lại"}, "resolved"),
        (agent, "close", {}, "closed"),
        (intake, "feedback", {"score": 5, "comment": "Rất tốt"}, "closed"),
    ]
    for version, (who, action, body, status) in enumerate(steps, start=2):
        response = who.act(case_id, action, body, **{"If-Match": f'"{version - 1}"'})
        assert response.status_code == 200, (action, response.get_json())
        assert response.get_json()["status"] == status
        assert response.headers["ETag"] == f'"{version}"'

    case = agent.get(f"/api/v1/cases/{case_id}").get_json()
    assert case["assignee"] == agent.name
    assert case["category"] == {"line": "health", "kind": "benefit_status"}
    assert (case["priority"], case["unit"]) == ("high", "hcmc")
    assert [m["direction"] for m in case["messages"]] == ["out", "out", "in"]
    assert case["notes"][0]["author"] == agent.name
    assert case["resolution"] == "Sổ đã được gửi"
    assert case["feedback"]["score"] == 5
    assert case["first_replied_at"] is not None
    assert case["closed_at"] is not None
    assert case["allowed_actions"] == ["feedback", "note", "reopen"]


def test_the_history_names_every_event_with_its_actor_and_data(
    intake: Caller, agent: Caller
) -> None:
    case = open_case(intake, channel="phone")
    agent.act(case["id"], "assign", {}, **{"X-Correlation-ID": "call-42"})
    agent.act(case["id"], "escalate", {"reason": "khiếu nại"}, **{"X-On-Behalf-Of": "citizen-1"})

    history = agent.get(f"/api/v1/cases/{case['id']}/history").get_json()

    assert [(e["type"], e["version"]) for e in history] == [
        ("Received", 1),
        ("Assigned", 2),
        ("Escalated", 3),
    ]
    received, assigned, escalated = history
    assert received["actor"] == {"id": intake.name, "role": "intake", "on_behalf_of": None}
    assert received["cause"] == "channel:phone"
    assert received["data"]["subject"] == "Chưa nhận được sổ BHXH"
    assert assigned["correlation_id"] == "call-42"
    assert assigned["data"] == {"agent": agent.name, "previous_agent": None}
    assert (assigned["cause"], assigned["status"]) == ("api", "in_progress")
    assert escalated["actor"]["on_behalf_of"] == "citizen-1"
    assert escalated["data"] == {"reason": "khiếu nại", "level": 1}


def test_the_correlation_id_is_echoed_or_made(intake: Caller) -> None:
    given = intake.client.get("/api/v1/health", headers={"X-Correlation-ID": "req-7"})
    made = intake.client.get("/api/v1/health")

    assert given.headers["X-Correlation-ID"] == "req-7"
    assert len(made.headers["X-Correlation-ID"]) == 36


def test_the_same_external_ref_twice_gives_one_case(intake: Caller) -> None:
    body = inquiry("email")

    first = intake.post("/api/v1/cases", body)
    again = intake.post("/api/v1/cases", {**body, "subject": "Fwd: " + body["subject"]})

    assert (first.status_code, again.status_code) == (201, 200)
    assert again.get_json()["id"] == first.get_json()["id"]
    assert again.get_json()["subject"] == body["subject"]
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
    case = open_case(intake)
    path = f"/api/v1/cases/{case['id']}"
    agent.act(case["id"], "assign", {})
    agent.act(case["id"], "reply", {"message": "Đang xử lý"})
    history = auditor.get(f"{path}/history").get_json()
    assigned_at = datetime.fromisoformat(history[1]["timestamp"])

    at_version = auditor.get(path, query_string={"version": 2})
    at_moment = auditor.get(path, query_string={"as_of": assigned_at.isoformat()})
    just_before = auditor.get(
        path, query_string={"as_of": (assigned_at - timedelta(microseconds=1)).isoformat()}
    )
    now = auditor.get(path)

    assert at_version.status_code == 200
    assert at_version.headers["ETag"] == '"2"'
    assert (at_version.get_json()["status"], at_version.get_json()["messages"]) == (
        "in_progress",
        [],
    )
    assert at_moment.get_json() == at_version.get_json()
    assert just_before.get_json()["version"] == 1
    assert now.get_json()["version"] == 3
    assert len(now.get_json()["messages"]) == 1


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
