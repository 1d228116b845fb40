"""SLA clocks wherever the API shows them: the breach and at-risk lists, the case list's `at_risk`
and `sort=due`, the queues' `at_risk` counts, and the metrics.

The module's casemgmt runs under a policy of minutes around the clock and a clock the tests set,
so a case is made breached or at risk by receiving it some minutes before "now" (`received_at`);
nothing waits for time to pass. Its worker runs the projections but not the SLA timer, which would
record alarms on every case of the session at these moments: a test that needs a breach recorded
asks the case to record it (`check_sla`), as the timer does.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from uuid import UUID, uuid4

import pytest
from prometheus_client.parser import text_string_to_metric_families

from casemgmt.api import create_app
from casemgmt.bootstrap import build
from casemgmt.domain import Actor, Context, Role
from casemgmt.domain.routing import DEFAULT_ROUTING
from casemgmt.policy_file import load_policy
from tests.e2e.conftest import Caller, caught_up, new_token, open_case
from tests.support.servers import OwnQueuePerUnit, UnitsOfTests, own_queue

if TYPE_CHECKING:
    from collections.abc import Iterator

    from flask import Flask

    from casemgmt.bootstrap import Container

MINUTES_POLICY = """
version = "test-sla-api-1"
warning_at = 0.5

[calendars.around_the_clock]
always_open = true

[units]
default = "around_the_clock"

[[targets]]
priority = "urgent"
first_response = "PT1M"
resolution = "PT2M"

[[targets]]
first_response = "PT10M"
resolution = "PT20M"
"""
# "Now" for the lists; the metrics test counts at a moment of its own.
NOW = datetime(2031, 3, 3, 9, 0, tzinfo=UTC)
LATER = NOW + timedelta(days=1)


class SetClock:
    """The module's clock: it reads what the test set."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture(scope="module")
def clock() -> SetClock:
    return SetClock(NOW)


@pytest.fixture(scope="module")
def centre(
    container: Container, clock: SetClock, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Container]:
    """casemgmt on the session's database under the minutes policy and the set clock."""
    policy = tmp_path_factory.mktemp("sla") / "policy.toml"
    policy.write_text(MINUTES_POLICY, encoding="utf-8")
    own = build(
        container.settings,
        routing=OwnQueuePerUnit(DEFAULT_ROUTING.rules, DEFAULT_ROUTING.default_queue),
        clock=clock,
        sla_policy=load_policy(policy),
        taxonomy=UnitsOfTests(),
    )
    try:
        with own.projections.worker(own.projections.names, lock_retry_seconds=0.1):
            yield own
    finally:
        own.close()


@pytest.fixture(scope="module")
def app(centre: Container) -> Flask:
    return create_app(centre.settings, centre)


def minutes(n: float) -> datetime:
    return NOW + timedelta(minutes=n)


@dataclass(frozen=True)
class Scenario:
    """Cases of one queue (`unit`, triaged) and one of another (`other`), as they stand at NOW.

    Normal cases: first response warned at 5 minutes, due at 10; resolution warned at 10, due at
    20. Urgent ones: due at 1 and 2 minutes.
    """

    unit: str
    other: str
    ids: dict[str, str]

    def names(self, items: list[dict[str, Any]]) -> list[str]:
        by_id = {case_id: name for name, case_id in self.ids.items()}
        return [by_id[item["id"]] for item in items]

    def clocks(self, items: list[dict[str, Any]]) -> list[tuple[str, str]]:
        return [(name, item["clock"]) for name, item in zip(self.names(items), items, strict=True)]


def speaking_as(app: Flask, centre: Container, role: Role) -> Caller:
    name = f"{role}-{uuid4().hex[:8]}"
    return Caller(app.test_client(), new_token(centre, role, name), name)


@pytest.fixture(scope="module")
def scenario(app: Flask, centre: Container, clock: SetClock) -> Scenario:
    clock.now = NOW
    unit, other = own_queue(), own_queue()
    intake, agent, supervisor = (
        speaking_as(app, centre, role) for role in (Role.INTAKE, Role.AGENT, Role.SUPERVISOR)
    )

    def received(ago: float, priority: str = "normal", **fields: Any) -> str:
        """A case received `ago` minutes before NOW, triaged into `unit` (or the one given)."""
        fields = {"unit": unit, "priority": priority, **fields}
        case = open_case(intake, received_at=minutes(-ago).isoformat(), **fields)
        triage = {"category": {"line": "social", "kind": "procedure"}, "priority": priority}
        assert supervisor.act(case["id"], "triage", triage).status_code == 200
        return str(case["id"])

    # Answered in time, then past its resolution deadline (recorded) before it awaits the citizen.
    clock.now = minutes(-24)
    asked = received(25, unit=other)
    assert agent.act(asked, "assign", {}).status_code == 200
    assert agent.act(asked, "reply", {"message": "Đang xử lý."}).status_code == 200
    clock.now = minutes(-4)
    assert centre.care_centre.check_sla(UUID(asked), timer(clock.now)) == 2
    assert agent.act(asked, "request-info", {"message": "Số sổ BHXH?"}).status_code == 200
    clock.now = NOW
    ids = {
        "asked": asked,
        "late": received(11),  # first response breached (not recorded); resolution at risk
        "phoned": received(8, channel="phone"),  # first response at risk: due in 2 minutes
        "answered": received(3),  # first response met, below; assigned, so not waiting
        "resolved": received(1),  # resolved, below: no clock runs
        "urgent": received(5, "urgent"),  # both clocks breached: due 4 and 3 minutes ago
        "fresh": received(1),  # nothing due soon; waiting
        "elsewhere": received(6, unit=other),  # first response at risk, in the other queue
        "resolved_late": received(12, unit=other),  # resolved, below: both clocks stop, one late
    }
    assert agent.act(ids["answered"], "assign", {}).status_code == 200
    assert agent.act(ids["answered"], "reply", {"message": "Đã nhận."}).status_code == 200
    for name in ("resolved", "resolved_late"):
        assert agent.act(ids[name], "assign", {}).status_code == 200
        assert agent.act(ids[name], "resolve", {"resolution": "answered"}).status_code == 200
    caught_up(centre)
    return Scenario(unit, other, ids)


@pytest.fixture
def at_now(scenario: Scenario, clock: SetClock) -> Scenario:
    """The scenario, with the clock at NOW."""
    clock.now = NOW
    return scenario


def timer(at: datetime) -> Context:
    """What the SLA timer's checks carry."""
    return Context(Actor("sla-timer", Role.SYSTEM), at, f"test-sla-{uuid4()}", "timer:sla")


def listing(caller: Caller, path: str, **query: Any) -> dict[str, Any]:
    response = caller.client.get(path, query_string=query, headers=caller.headers())
    assert response.status_code == 200, response.get_json()
    page: dict[str, Any] = response.get_json()
    return page


def breaches(caller: Caller, **query: Any) -> dict[str, Any]:
    return listing(caller, "/api/v1/sla/breaches", **query)


def at_risk(caller: Caller, **query: Any) -> dict[str, Any]:
    return listing(caller, "/api/v1/sla/at-risk", **query)


def cases(caller: Caller, **query: Any) -> dict[str, Any]:
    return listing(caller, "/api/v1/cases", **query)


# -- /sla/breaches and /sla/at-risk ----------------------------------------------------------------


def test_breaches_lists_each_clock_past_its_deadline_of_the_open_cases_most_overdue_first(
    at_now: Scenario, supervisor: Caller
) -> None:
    page = breaches(supervisor, unit=at_now.unit)

    assert at_now.clocks(page["items"]) == [
        ("urgent", "first_response"),
        ("urgent", "resolution"),
        ("late", "first_response"),
    ]
    assert [item["overdue_seconds"] for item in page["items"]] == [240, 180, 60]
    first = page["items"][0]
    assert datetime.fromisoformat(first["due"]) == minutes(-4)
    assert (first["status"], first["priority"], first["queue"]) == (
        "triaged",
        "urgent",
        at_now.unit,
    )
    assert (first["unit"], first["assignee"], first["channel"]) == (at_now.unit, None, "email")
    assert first["reference"].startswith("CC-")
    assert (page["total"], page["page"], page["pages"]) == (3, 1, 1)


def test_at_risk_lists_each_clock_past_its_warning_before_its_deadline_soonest_due_first(
    at_now: Scenario, auditor: Caller
) -> None:
    page = at_risk(auditor, unit=at_now.unit)

    assert at_now.clocks(page["items"]) == [("phoned", "first_response"), ("late", "resolution")]
    assert [item["seconds_left"] for item in page["items"]] == [120, 540]
    assert datetime.fromisoformat(page["items"][0]["due"]) == minutes(2)
    assert page["total"] == 2


def test_the_sla_lists_filter_by_unit_queue_clock_and_channel(
    at_now: Scenario, agent: Caller
) -> None:
    unit, other = at_now.unit, at_now.other

    assert at_now.clocks(at_risk(agent, queue=other)["items"]) == [("elsewhere", "first_response")]
    both_units = at_risk(agent, unit=f"{unit},{other}", clock="first_response")
    assert at_now.clocks(both_units["items"]) == [
        ("phoned", "first_response"),
        ("elsewhere", "first_response"),
    ]
    assert at_now.clocks(at_risk(agent, unit=unit, clock="resolution")["items"]) == [
        ("late", "resolution")
    ]
    assert at_now.clocks(breaches(agent, queue=unit, clock="resolution")["items"]) == [
        ("urgent", "resolution")
    ]
    assert at_now.clocks(at_risk(agent, unit=unit, channel="phone")["items"]) == [
        ("phoned", "first_response")
    ]
    assert breaches(agent, unit=unit, channel="phone")["items"] == []
    # paused after its recorded breach; the case whose first response came late is resolved
    assert at_now.clocks(breaches(agent, queue=other)["items"]) == [("asked", "resolution")]


def test_the_sla_lists_page_like_the_case_list(at_now: Scenario, supervisor: Caller) -> None:
    first = breaches(supervisor, unit=at_now.unit, per_page=2)
    second = breaches(supervisor, unit=at_now.unit, per_page=2, page=2)
    beyond = breaches(supervisor, unit=at_now.unit, per_page=2, page=3)

    assert at_now.clocks(first["items"] + second["items"]) == [
        ("urgent", "first_response"),
        ("urgent", "resolution"),
        ("late", "first_response"),
    ]
    assert (first["total"], first["pages"], second["page"]) == (3, 2, 2)
    assert (beyond["items"], beyond["total"]) == ([], 3)


def test_a_breach_the_timer_recorded_is_listed_as_one_it_has_not_yet(
    at_now: Scenario, centre: Container, supervisor: Caller
) -> None:
    before = breaches(supervisor, unit=at_now.unit)["items"]
    for name in ("late", "urgent"):
        assert centre.care_centre.check_sla(UUID(at_now.ids[name]), timer(NOW)) > 0
    caught_up(centre)

    after = breaches(supervisor, unit=at_now.unit)["items"]
    listed = {item["id"]: item for item in cases(supervisor, unit=at_now.unit)["items"]}

    assert after == before
    assert at_now.clocks(at_risk(supervisor, unit=at_now.unit)["items"]) == [
        ("phoned", "first_response"),
        ("late", "resolution"),
    ]
    late = listed[at_now.ids["late"]]
    assert (late["breached"], late["first_response_state"], late["at_risk"]) == (
        True,
        "breached",
        True,
    )


@pytest.mark.parametrize("path", ["/api/v1/sla/breaches", "/api/v1/sla/at-risk"])
def test_the_sla_lists_are_for_those_who_read_queues_not_for_intake(
    at_now: Scenario, intake: Caller, agent: Caller, auditor: Caller, path: str
) -> None:
    refused = intake.get(path)

    assert refused.status_code == 403
    assert refused.get_json()["operation"] == "read-queues"
    assert {agent.get(path).status_code, auditor.get(path).status_code} == {200}


# -- the case list ---------------------------------------------------------------------------------


def test_the_case_list_filters_by_at_risk_now(at_now: Scenario, agent: Caller) -> None:
    risky = cases(agent, unit=at_now.unit, at_risk="true")["items"]
    safe = cases(agent, unit=at_now.unit, at_risk="false")["items"]

    assert set(at_now.names(risky)) == {"late", "phoned"}
    assert set(at_now.names(safe)) == {"answered", "resolved", "urgent", "fresh"}
    assert all(item["at_risk"] for item in risky)
    assert not any(item["at_risk"] for item in safe)


def test_a_listed_case_shows_its_deadlines_and_their_states_now(
    at_now: Scenario, agent: Caller
) -> None:
    listed = {item["id"]: item for item in cases(agent, unit=at_now.unit)["items"]}

    def clocks(name: str) -> tuple[Any, ...]:
        item = listed[at_now.ids[name]]
        due = (item["first_response_due"], item["resolution_due"])
        return (*(datetime.fromisoformat(d) for d in due), *_states(item))

    assert clocks("phoned") == (minutes(2), minutes(12), "running", "running")
    assert clocks("answered") == (minutes(7), minutes(17), "met", "running")
    assert clocks("resolved")[2:] == ("met", "met")
    assert clocks("urgent") == (minutes(-4), minutes(-3), "breached", "breached")


def _states(item: dict[str, Any]) -> tuple[str, str]:
    return item["first_response_state"], item["resolution_state"]


def test_the_case_list_sorts_by_the_nearest_running_deadline(
    at_now: Scenario, agent: Caller
) -> None:
    soonest = cases(agent, unit=at_now.unit, sort="due")["items"]
    latest = cases(agent, unit=at_now.unit, sort="-due")["items"]

    # urgent -4, late -1, phoned +2, fresh +9, answered +17 (its resolution); resolved: none
    assert at_now.names(soonest) == ["urgent", "late", "phoned", "fresh", "answered", "resolved"]
    assert at_now.names(latest) == ["answered", "fresh", "phoned", "late", "urgent", "resolved"]


# -- the queues ------------------------------------------------------------------------------------


def test_a_queue_counts_its_waiting_cases_at_risk_or_breached(
    at_now: Scenario, supervisor: Caller
) -> None:
    overview = {queue["name"]: queue for queue in supervisor.get("/api/v1/queues").get_json()}
    queue = supervisor.get(f"/api/v1/queues/{at_now.unit}").get_json()

    # waiting: late (breached, at risk), phoned (at risk), urgent (breached), fresh; the answered
    # case is assigned, the resolved one waits no more
    assert (overview[at_now.unit]["size"], overview[at_now.unit]["at_risk"]) == (4, 3)
    assert (overview[at_now.other]["size"], overview[at_now.other]["at_risk"]) == (1, 1)
    assert (queue["size"], queue["at_risk"]) == (4, 3)
    assert at_now.names(queue["items"]) == ["urgent", "late", "phoned", "fresh"]
    due = [datetime.fromisoformat(item["due_at"]) for item in queue["items"]]
    assert due == [minutes(-4), minutes(-1), minutes(2), minutes(9)]


# -- the metrics -----------------------------------------------------------------------------------


def scrape(app: Flask) -> dict[tuple[str, str], float]:
    response = app.test_client().get("/api/v1/metrics")
    assert response.status_code == 200
    return {
        (sample.name, sample.labels["clock"]): sample.value
        for family in text_string_to_metric_families(response.get_data(as_text=True))
        for sample in family.samples
        if sample.name.startswith("casemgmt_sla_")
    }


def test_metrics_count_the_open_cases_breached_and_at_risk_per_clock(
    centre: Container, app: Flask, clock: SetClock, intake: Caller, agent: Caller
) -> None:
    clock.now = LATER
    unit = own_queue()
    caught_up(centre)
    before = scrape(app)

    def received(ago: float, priority: str = "normal") -> dict[str, Any]:
        at = (LATER - timedelta(minutes=ago)).isoformat()
        return open_case(intake, unit=unit, priority=priority, received_at=at)

    received(6)  # first response at risk
    received(5, "urgent")  # both breached
    received(12)  # first response breached, resolution at risk
    late = received(12)  # answered and resolved late: no open breach
    assert agent.act(late["id"], "assign", {}).status_code == 200
    assert agent.act(late["id"], "resolve", {"resolution": "answered"}).status_code == 200
    caught_up(centre)

    after = scrape(app)

    assert set(after) == {
        (name, clock)
        for name in ("casemgmt_sla_open_breaches", "casemgmt_sla_at_risk")
        for clock in ("first_response", "resolution")
    }
    assert {key: after[key] - before[key] for key in after} == {
        ("casemgmt_sla_open_breaches", "first_response"): 2,
        ("casemgmt_sla_open_breaches", "resolution"): 1,
        ("casemgmt_sla_at_risk", "first_response"): 1,
        ("casemgmt_sla_at_risk", "resolution"): 1,
    }
