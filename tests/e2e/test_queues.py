"""`/api/v1/queues`: the overview, a queue's ordered work list, and claiming the next case.

The projections run with `OwnQueuePerUnit` routing: a test that opens its cases in a `queue-…`
unit has a queue to itself, so the cases of other tests never stand in its line.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from uuid import UUID

import pytest

from casemgmt.api import create_app
from tests.e2e.conftest import caught_up, open_case
from tests.support.servers import own_queue

if TYPE_CHECKING:
    from flask import Flask

    from casemgmt.bootstrap import Container
    from tests.e2e.conftest import Caller

NOW = datetime.now(UTC)


@pytest.fixture(scope="module")
def app(projected: Container) -> Flask:
    return create_app(projected.settings, projected)


def waiting(
    intake: Caller, supervisor: Caller, unit: str, priority: str = "normal", hours_ago: float = 1
) -> dict[str, Any]:
    """A case received `hours_ago` and triaged with `priority` into `unit`: it waits in a queue."""
    received_at = (NOW - timedelta(hours=hours_ago)).isoformat()
    case = open_case(intake, unit=unit, received_at=received_at)
    triage = {"category": {"line": "social", "kind": "procedure"}, "priority": priority}
    response = supervisor.act(case["id"], "triage", triage)
    assert response.status_code == 200, response.get_json()
    return case


def overview_of(caller: Caller, name: str) -> dict[str, Any]:
    response = caller.get("/api/v1/queues")
    assert response.status_code == 200, response.get_json()
    overview: dict[str, Any]
    (overview,) = [queue for queue in response.get_json() if queue["name"] == name]
    return overview


def test_the_overview_shows_a_triaged_case_in_the_queue_it_was_routed_to(
    projected: Container, intake: Caller, supervisor: Caller
) -> None:
    queue = own_queue()
    urgent = waiting(intake, supervisor, queue, "urgent", hours_ago=2)
    normal = waiting(intake, supervisor, queue, "normal", hours_ago=1)
    open_case(intake, unit=queue)  # received, not triaged: in no queue yet
    caught_up(projected)

    overview = overview_of(supervisor, queue)
    # At risk or breached now, as the cases' own clocks say (it depends on the time of day).
    now = datetime.now(UTC)
    expected_at_risk = sum(
        any(
            clock.warning_due <= now
            for clock in projected.care_centre.get_case(UUID(case["id"])).clocks.values()
            if clock.running
        )
        for case in (urgent, normal)
    )

    assert overview["size"] == 2
    assert overview["by_priority"] == {"urgent": 1, "high": 0, "normal": 1, "low": 0}
    assert 2 * 3600 - 5 <= overview["oldest_waiting_seconds"] <= 2 * 3600 + 600
    oldest = datetime.fromisoformat(overview["oldest_received_at"])
    assert abs(oldest - (NOW - timedelta(hours=2))) < timedelta(seconds=1)
    assert overview["at_risk"] == expected_at_risk


def test_a_case_waits_in_the_queue_the_routing_rules_give_its_category(
    projected: Container, intake: Caller, supervisor: Caller
) -> None:
    case = open_case(intake, unit="hue")
    triage = {"category": {"line": "health", "kind": "benefit_status"}, "priority": "low"}
    assert supervisor.act(case["id"], "triage", triage).status_code == 200
    caught_up(projected)

    names = [queue["name"] for queue in supervisor.get("/api/v1/queues").get_json()]
    health = supervisor.get("/api/v1/queues/health?limit=500").get_json()

    assert {"complaints", "health", "unemployment", "social", "general"} <= set(names)
    assert case["id"] in [item["id"] for item in health["items"]]


def test_the_work_list_puts_urgent_cases_first_then_the_longest_waiting(
    projected: Container, intake: Caller, supervisor: Caller
) -> None:
    queue = own_queue()
    normal_newer = waiting(intake, supervisor, queue, "normal", hours_ago=1)
    low_oldest = waiting(intake, supervisor, queue, "low", hours_ago=9)
    urgent_newest = waiting(intake, supervisor, queue, "urgent", hours_ago=0.5)
    normal_older = waiting(intake, supervisor, queue, "normal", hours_ago=3)
    high = waiting(intake, supervisor, queue, "high", hours_ago=2)
    caught_up(projected)

    work_list = supervisor.get(f"/api/v1/queues/{queue}").get_json()
    first_two = supervisor.get(f"/api/v1/queues/{queue}?limit=2").get_json()

    expected = [urgent_newest, high, normal_older, normal_newer, low_oldest]
    assert [item["id"] for item in work_list["items"]] == [case["id"] for case in expected]
    assert [item["position"] for item in work_list["items"]] == [1, 2, 3, 4, 5]
    assert [item["priority"] for item in work_list["items"]] == [
        "urgent",
        "high",
        "normal",
        "normal",
        "low",
    ]
    assert (work_list["name"], work_list["size"]) == (queue, 5)
    first = work_list["items"][0]
    assert (first["reference"], first["status"], first["unit"]) == (
        urgent_newest["reference"],
        "triaged",
        queue,
    )
    assert first["category"] == {"line": "social", "kind": "procedure"}
    assert 1800 - 5 <= first["waiting_seconds"] <= 1800 + 600
    assert [item["id"] for item in first_two["items"]] == [c["id"] for c in expected[:2]]
    assert first_two["size"] == 5


def test_a_claim_assigns_the_next_case_to_the_caller_until_the_queue_is_empty(
    projected: Container, intake: Caller, supervisor: Caller, agent: Caller
) -> None:
    queue = own_queue()
    normal = waiting(intake, supervisor, queue, "normal", hours_ago=5)
    urgent = waiting(intake, supervisor, queue, "urgent", hours_ago=1)
    caught_up(projected)

    first = agent.post(f"/api/v1/queues/{queue}/claim", **{"X-Correlation-ID": "claim-1"})
    second = supervisor.post(f"/api/v1/queues/{queue}/claim")
    empty = agent.post(f"/api/v1/queues/{queue}/claim")

    assert first.status_code == 200, first.get_json()
    claimed = first.get_json()
    assert (claimed["id"], claimed["assignee"], claimed["status"]) == (
        urgent["id"],
        agent.name,
        "in_progress",
    )
    assert first.headers["ETag"] == f'"{claimed["version"]}"'
    assert (second.status_code, second.get_json()["id"]) == (200, normal["id"])
    assert second.get_json()["assignee"] == supervisor.name
    assert (empty.status_code, empty.data) == (204, b"")

    history = agent.get(f"/api/v1/cases/{urgent['id']}/history").get_json()
    assert (history[-1]["type"], history[-1]["correlation_id"]) == ("Assigned", "claim-1")
    assert history[-1]["actor"]["id"] == agent.name
    caught_up(projected)
    assert overview_of(agent, queue)["size"] == 0
    mine = agent.get(f"/api/v1/cases?unit={queue}&assignee={agent.name}").get_json()
    assert [item["id"] for item in mine["items"]] == [urgent["id"]]


def test_an_unknown_queue_is_a_404_problem(agent: Caller) -> None:
    name = own_queue()

    listed = agent.get(f"/api/v1/queues/{name}")
    claimed = agent.post(f"/api/v1/queues/{name}/claim")

    for response in (listed, claimed):
        assert response.status_code == 404
        assert response.mimetype == "application/problem+json"
        assert response.get_json()["type"] == "urn:casemgmt:problem:queue-not-found"
        assert name in response.get_json()["detail"]


@pytest.mark.parametrize(("query", "field"), [("limit=0", "limit"), ("colour=red", "colour")])
def test_a_bad_work_list_query_is_refused_naming_the_parameter(
    agent: Caller, query: str, field: str
) -> None:
    response = agent.get(f"/api/v1/queues/general?{query}")

    assert response.status_code == 422
    assert field in response.get_json()["errors"]


def test_intake_may_neither_read_queues_nor_claim(intake: Caller) -> None:
    claimed = intake.post("/api/v1/queues/general/claim")
    read = intake.get("/api/v1/queues")

    assert (claimed.status_code, read.status_code) == (403, 403)
    assert claimed.get_json()["detail"] == "the role intake may not claim"


def test_an_auditor_reads_queues_and_the_case_list_but_may_not_claim(
    projected: Container, intake: Caller, supervisor: Caller, auditor: Caller
) -> None:
    queue = own_queue()
    case = waiting(intake, supervisor, queue)
    caught_up(projected)

    overview = auditor.get("/api/v1/queues")
    work_list = auditor.get(f"/api/v1/queues/{queue}")
    listed = auditor.get(f"/api/v1/cases?queue={queue}")
    claimed = auditor.post(f"/api/v1/queues/{queue}/claim")

    assert (overview.status_code, work_list.status_code, listed.status_code) == (200, 200, 200)
    assert [item["id"] for item in work_list.get_json()["items"]] == [case["id"]]
    assert [item["id"] for item in listed.get_json()["items"]] == [case["id"]]
    assert claimed.status_code == 403
    assert claimed.get_json()["operation"] == "claim"
    assert overview_of(auditor, queue)["size"] == 1  # the refused claim took nothing


def test_a_claim_with_a_malformed_header_is_refused_before_a_case_is_taken(
    projected: Container, intake: Caller, supervisor: Caller, agent: Caller
) -> None:
    queue = own_queue()
    case = waiting(intake, supervisor, queue)
    caught_up(projected)

    refused = agent.post(f"/api/v1/queues/{queue}/claim", **{"X-On-Behalf-Of": "x" * 201})
    claimed = agent.post(f"/api/v1/queues/{queue}/claim")

    assert refused.status_code == 422
    assert (claimed.status_code, claimed.get_json()["id"]) == (200, case["id"])
