"""The centre's taxonomy: kinds and units from the policy file, the valid ones named on refusal."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING
from uuid import UUID

import pytest

from casemgmt.api import create_app
from casemgmt.bootstrap import build
from casemgmt.domain import Role
from casemgmt.domain.taxonomy import DEFAULT_KINDS, PROVINCIAL_UNITS
from casemgmt.settings import SettingsError
from tests.e2e.conftest import Caller, inquiry, new_token
from tests.support.projections import fresh_setup

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from casemgmt.settings import Settings

CUSTOM = """
[taxonomy]
kinds = ["pension_estimate", "card_reissue", "complaint"]
units = ["hanoi", "mobile-team-1"]

[[targets]]
kind = "pension_estimate"
first_response = "PT4H"
resolution = "P10D"

[[targets]]
first_response = "PT8H"
resolution = "P5D"
"""


def test_an_unknown_kind_is_refused_naming_the_valid_ones(intake: Caller) -> None:
    response = intake.post("/api/v1/cases", inquiry(category={"line": "social", "kind": "gossip"}))
    assert response.status_code == 422, response.get_json()
    message = response.get_json()["errors"]["category.kind"][0]
    assert "'gossip'" in message
    assert all(kind in message for kind in DEFAULT_KINDS)


def test_an_unknown_unit_is_refused_at_intake_triage_and_transfer(
    intake: Caller, supervisor: Caller
) -> None:
    opened = intake.post("/api/v1/cases", inquiry(unit="atlantis"))
    assert opened.status_code == 422
    assert "hcmc" in opened.get_json()["errors"]["unit"][0]
    case_id = intake.post("/api/v1/cases", inquiry()).get_json()["id"]
    triage = {"category": {"line": "health", "kind": "nonsense"}, "priority": "low"}
    assert supervisor.act(case_id, "triage", triage).status_code == 422
    moved = supervisor.act(case_id, "transfer", {"unit": "nowhere", "reason": "địa bàn"})
    assert moved.status_code == 422
    assert moved.get_json()["errors"]["unit"][0].startswith("'nowhere' is not one of: central")
    assert supervisor.act(case_id, "transfer", {"unit": "cantho", "reason": "x"}).status_code == 200


def test_the_default_units_are_the_centre_and_the_provinces() -> None:
    assert len(PROVINCIAL_UNITS) == 64 and len(set(PROVINCIAL_UNITS)) == 64
    assert {"hanoi", "hcmc", "danang", "hue", "cantho"} <= set(PROVINCIAL_UNITS)


@pytest.fixture
def custom_settings(app_settings: Settings, tmp_path: Path) -> Iterator[Settings]:
    policy = tmp_path / "policy.toml"
    policy.write_text(CUSTOM, encoding="utf-8")
    yield dataclasses.replace(app_settings, sla_policy_path=policy)


def test_a_custom_taxonomy_from_the_policy_file_is_what_new_cases_may_name(
    custom_settings: Settings,
) -> None:
    container = build(custom_settings)
    try:
        app = create_app(custom_settings, container)
        intake = Caller(app.test_client(), new_token(container, Role.INTAKE), "intake")
        own = inquiry(unit="mobile-team-1", category={"line": "social", "kind": "pension_estimate"})
        opened = intake.post("/api/v1/cases", own)
        assert opened.status_code == 201, opened.get_json()
        case = container.care_centre.get_case(UUID(opened.get_json()["id"]))
        assert (case.category.kind, case.unit) == ("pension_estimate", "mobile-team-1")
        targets = sorted(clock.terms.target for clock in case.clocks.values())
        assert targets == ["P10D", "PT4H"]  # the policy's target for its own kind applies
        default_kind = intake.post("/api/v1/cases", inquiry(unit="hanoi"))  # kind "procedure"
        assert default_kind.status_code == 422
        assert "pension_estimate, card_reissue, complaint" in default_kind.get_json()["detail"]
    finally:
        container.close()


def test_a_taxonomy_that_names_nothing_stops_start_up(
    app_settings: Settings, tmp_path: Path
) -> None:
    policy = tmp_path / "policy.toml"
    policy.write_text("[taxonomy]\nkinds = []\n", encoding="utf-8")
    with pytest.raises(SettingsError, match=r"taxonomy\.kinds: must name at least one"):
        build(dataclasses.replace(app_settings, sla_policy_path=policy))


# A kind of the centre's own, with a queue of its own; "complaint" keeps the built-in SLA targets.
ROUTED = """
[taxonomy]
kinds = ["pension-transfer", "procedure", "complaint"]
units = ["hanoi", "mobile-team-1"]

[queues]
default = "front-desk"

[[queues.rules]]
queue = "pension-transfers"
kind = "pension-transfer"

[[queues.rules]]
queue = "mobile"
unit = "mobile-team-1"
"""


def test_a_case_of_a_kind_the_centre_added_waits_in_the_queue_its_rule_names_and_is_claimed(
    servers: Settings, tmp_path: Path
) -> None:
    policy = tmp_path / "policy.toml"
    policy.write_text(ROUTED, encoding="utf-8")
    # A database and Redis key prefix of the test's own: its projections route by this file.
    with fresh_setup(dataclasses.replace(servers, sla_policy_path=policy)) as setup:
        container = setup.container
        client = create_app(container.settings, container).test_client()
        intake, supervisor, agent = (
            Caller(client, new_token(container, role, name), name)
            for role, name in ((Role.INTAKE, "mail"), (Role.SUPERVISOR, "mai"), (Role.AGENT, "lan"))
        )
        kind = {"line": "social", "kind": "pension-transfer"}
        opened = intake.post("/api/v1/cases", inquiry(unit="hanoi", category=kind))
        assert opened.status_code == 201, opened.get_json()
        case_id = opened.get_json()["id"]
        triage = {"category": kind, "priority": "normal"}
        assert supervisor.act(case_id, "triage", triage).status_code == 200
        other = intake.post("/api/v1/cases", inquiry(unit="hanoi")).get_json()["id"]
        procedure = {"category": {"line": "social", "kind": "procedure"}, "priority": "normal"}
        assert supervisor.act(other, "triage", procedure).status_code == 200

        with setup.projections.worker(["work_queues"]):
            assert setup.projections.wait_until_caught_up(names=["work_queues"], timeout=30)
            names = [queue["name"] for queue in agent.get("/api/v1/queues").get_json()]
            waiting = agent.get("/api/v1/queues/pension-transfers").get_json()
            claimed = agent.post("/api/v1/queues/pension-transfers/claim")
            assert setup.projections.wait_until_caught_up(names=["work_queues"], timeout=30)
            after = agent.get("/api/v1/queues/pension-transfers").get_json()
            front_desk = agent.get("/api/v1/queues/front-desk").get_json()

        assert names[:3] == ["pension-transfers", "mobile", "front-desk"]
        assert [item["id"] for item in waiting["items"]] == [case_id]
        assert waiting["items"][0]["category"] == kind
        assert claimed.status_code == 200, claimed.get_json()
        assert (claimed.get_json()["id"], claimed.get_json()["assignee"]) == (case_id, agent.name)
        assert claimed.get_json()["queue"] == "pension-transfers"
        assert after["size"] == 0
        assert [item["id"] for item in front_desk["items"]] == [other]


def test_a_routing_rule_naming_a_kind_outside_the_taxonomy_stops_start_up_in_one_line(
    app_settings: Settings, tmp_path: Path
) -> None:
    policy = tmp_path / "policy.toml"
    policy.write_text(ROUTED.replace('kind = "pension-transfer"', 'kind = "pension"'))
    with pytest.raises(SettingsError) as refused:
        build(dataclasses.replace(app_settings, sla_policy_path=policy))
    assert str(refused.value) == (
        f"CASEMGMT_SLA_POLICY={policy}: queues.rules[1].kind: 'pension' is not one of: "
        "pension-transfer, procedure, complaint"
    )
