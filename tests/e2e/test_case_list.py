"""`GET /api/v1/cases`: the case list, filtered, searched, sorted and paged.

Every test works in a unit of its own, so the cases that other tests open meanwhile never show.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from uuid import UUID, uuid4

import pytest

from casemgmt.api import create_app
from casemgmt.domain.sla import ClockName
from tests.e2e.conftest import caught_up, open_case

if TYPE_CHECKING:
    from flask import Flask

    from casemgmt.bootstrap import Container
    from tests.e2e.conftest import Caller

T0 = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def app(projected: Container) -> Flask:
    return create_app(projected.settings, projected)


def new_unit() -> str:
    return f"list-{uuid4().hex[:12]}"


def breaches_recorded(container: Container, case_id: UUID, timeout: float = 30) -> None:
    """Waits until the SLA timer has recorded the breach of every clock of the case."""
    deadline = time.monotonic() + timeout
    while True:
        clocks = container.care_centre.get_case(case_id).clocks
        if set(clocks) == set(ClockName) and all(clock.breached for clock in clocks.values()):
            return
        assert time.monotonic() < deadline, f"the SLA timer recorded no breach of {case_id}"
        time.sleep(0.05)


def listed(caller: Caller, **query: Any) -> dict[str, Any]:
    response = caller.client.get("/api/v1/cases", query_string=query, headers=caller.headers())
    assert response.status_code == 200, response.get_json()
    page: dict[str, Any] = response.get_json()
    return page


def ids(page: dict[str, Any]) -> set[str]:
    return {item["id"] for item in page["items"]}


def test_each_filter_narrows_the_list_to_the_cases_that_match(
    projected: Container, intake: Caller, agent: Caller, supervisor: Caller
) -> None:
    unit = new_unit()
    emailed = open_case(intake, channel="email", unit=unit)
    phoned = open_case(intake, channel="phone", unit=unit, priority="urgent")
    posted = open_case(intake, channel="post", unit=unit, category={"line": "health"})
    triage = {"category": {"line": "health", "kind": "complaint"}, "priority": "urgent"}
    assert supervisor.act(phoned["id"], "triage", triage).status_code == 200
    assert agent.act(phoned["id"], "assign", {}).status_code == 200
    assert supervisor.act(posted["id"], "escalate", {"reason": "gấp"}).status_code == 200
    caught_up(projected)

    everything = {emailed["id"], phoned["id"], posted["id"]}
    assert ids(listed(agent, unit=unit)) == everything
    assert ids(listed(agent, unit=unit, status="in_progress")) == {phoned["id"]}
    assert ids(listed(agent, unit=unit, status="received")) == {emailed["id"], posted["id"]}
    assert ids(listed(agent, unit=unit, channel="email")) == {emailed["id"]}
    assert ids(listed(agent, unit=unit, assignee=agent.name)) == {phoned["id"]}
    assert ids(listed(agent, unit=unit, priority="urgent")) == {phoned["id"]}
    assert ids(listed(agent, unit=unit, category_line="health")) == {phoned["id"], posted["id"]}
    assert ids(listed(agent, unit=unit, category_kind="complaint")) == {phoned["id"]}
    assert ids(listed(agent, unit=unit, queue="complaints")) == {phoned["id"]}
    assert ids(listed(agent, unit=unit, escalation_level=1)) == {posted["id"]}
    # No clock has breached yet: mark one row breached so that both values of the filter show.
    projected.datastore.execute(
        "UPDATE case_summaries SET resolution_breached = true WHERE case_id = %s", [posted["id"]]
    )
    assert ids(listed(agent, unit=unit, breached="true")) == {posted["id"]}
    assert ids(listed(agent, unit=unit, breached="false")) == {emailed["id"], phoned["id"]}
    assert listed(agent, unit=new_unit())["items"] == []


def test_a_filter_takes_several_values_repeated_or_separated_by_commas(
    projected: Container, intake: Caller, agent: Caller
) -> None:
    unit = new_unit()
    emailed = open_case(intake, channel="email", unit=unit)
    phoned = open_case(intake, channel="phone", unit=unit)
    open_case(intake, channel="post", unit=unit)
    caught_up(projected)

    repeated = agent.client.get(
        f"/api/v1/cases?unit={unit}&channel=email&channel=phone", headers=agent.headers()
    )
    separated = listed(agent, unit=unit, channel="email,phone")

    assert ids(repeated.get_json()) == ids(separated) == {emailed["id"], phoned["id"]}
    assert ids(listed(agent, unit=f"{unit},{new_unit()}")) == ids(listed(agent, unit=unit))


def test_a_listed_case_shows_its_summary(
    projected: Container, intake: Caller, supervisor: Caller
) -> None:
    unit = new_unit()
    case = open_case(intake, unit=unit, received_at=T0.isoformat())
    triage = {"category": {"line": "unemployment", "kind": "benefit_status"}, "priority": "high"}
    triaged = supervisor.act(case["id"], "triage", triage)
    assert triaged.status_code == 200
    assert (case["queue"], triaged.get_json()["queue"]) == (None, "unemployment")
    # Received at T0, weeks ago: both deadlines (PT4H, P3D once high) are long past, so the SLA
    # timer of the module's worker records a warning and a breach on each clock.
    breaches_recorded(projected, UUID(case["id"]))
    caught_up(projected)

    (item,) = listed(supervisor, unit=unit)["items"]

    assert item["reference"] == case["reference"]
    assert (item["status"], item["channel"], item["priority"]) == ("triaged", "email", "high")
    assert item["category"] == {"line": "unemployment", "kind": "benefit_status"}
    assert (item["unit"], item["queue"], item["assignee"]) == (unit, "unemployment", None)
    # 10: Received, SlaClockStarted ×2, Triaged, SlaDeadlineRecomputed ×2, and the timer's
    # SlaWarning and SlaBreached on each clock (before or after the triage: one breach each).
    assert (item["version"], item["escalation_level"], item["breached"]) == (10, 0, True)
    assert datetime.fromisoformat(item["received_at"]) == T0
    assert item["subject"] == "Chưa nhận được sổ BHXH"


@pytest.mark.parametrize(
    "text", ["sổ bảo hiểm xã hội", "so bao hiem xa hoi", "SO BAO HIEM", "nhan duoc", "Được"]
)
def test_text_finds_words_with_or_without_diacritics(
    projected: Container, intake: Caller, agent: Caller, text: str
) -> None:
    unit = new_unit()
    found = open_case(intake, unit=unit, subject="Chưa nhận được sổ bảo hiểm xã hội")
    open_case(intake, unit=unit, subject="Hỏi về thẻ y tế", body="Thẻ hết hạn")
    caught_up(projected)

    assert ids(listed(agent, unit=unit, text=text)) == {found["id"]}


def test_text_searches_messages_and_excludes_words(
    projected: Container, intake: Caller, agent: Caller
) -> None:
    unit = new_unit()
    answered = open_case(intake, unit=unit, subject="Hỏi về lương hưu", body=None)
    other = open_case(intake, unit=unit, subject="Hỏi về lương hưu tháng 12", body=None)
    reply = {"message": "Quý khách vui lòng mang CCCD đến Bảo hiểm xã hội quận"}
    assert agent.act(answered["id"], "assign", {}).status_code == 200
    assert agent.act(answered["id"], "reply", reply).status_code == 200
    caught_up(projected)

    assert ids(listed(agent, unit=unit, text="cccd")) == {answered["id"]}
    assert ids(listed(agent, unit=unit, text="luong huu -12")) == {answered["id"]}
    assert ids(listed(agent, unit=unit, text="lương hưu")) == {answered["id"], other["id"]}
    assert listed(agent, unit=unit, text="thất nghiệp")["total"] == 0


def test_pages_cover_every_match_once_with_the_total(
    projected: Container, intake: Caller, agent: Caller
) -> None:
    unit = new_unit()
    opened = [
        open_case(intake, unit=unit, received_at=(T0 + timedelta(hours=n)).isoformat())["id"]
        for n in range(5)
    ]
    caught_up(projected)

    pages = [listed(agent, unit=unit, sort="received_at", per_page=2, page=n) for n in (1, 2, 3)]
    beyond = listed(agent, unit=unit, sort="received_at", per_page=2, page=4)
    newest_first = listed(agent, unit=unit, per_page=5)

    assert [item["id"] for page in pages for item in page["items"]] == opened
    assert [(p["total"], p["page"], p["per_page"], p["pages"]) for p in pages] == [
        (5, 1, 2, 3),
        (5, 2, 2, 3),
        (5, 3, 2, 3),
    ]
    assert (beyond["items"], beyond["total"]) == ([], 5)
    assert [item["id"] for item in newest_first["items"]] == opened[::-1]  # -received_at


def test_sorting_by_priority_puts_urgent_first_when_descending(
    projected: Container, intake: Caller, agent: Caller
) -> None:
    unit = new_unit()
    for priority in ("normal", "urgent", "low", "high"):
        open_case(intake, unit=unit, priority=priority)
    caught_up(projected)

    page = listed(agent, unit=unit, sort="-priority")

    assert [item["priority"] for item in page["items"]] == ["urgent", "high", "normal", "low"]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("sort=deadline", "sort"),
        ("sort=relevance", "sort"),  # relevance needs a text to be relevant to
        ("per_page=201", "per_page"),
        ("page=0", "page"),
        ("status=open", "status"),
        ("channel=email,fax", "channel"),
        ("escalation_level=high", "escalation_level"),
        ("colour=red", "colour"),
    ],
)
def test_a_bad_query_is_refused_naming_the_parameter(agent: Caller, query: str, field: str) -> None:
    response = agent.get(f"/api/v1/cases?{query}")

    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    assert field in response.get_json()["errors"]


def test_every_role_that_reads_cases_may_list_them(
    intake: Caller, auditor: Caller, admin: Caller
) -> None:
    for caller in (intake, auditor, admin):
        assert caller.get("/api/v1/cases?per_page=1").status_code == 200
    assert intake.client.get("/api/v1/cases").status_code == 401
