"""Routing rules: which queue a case goes to, and its place in that queue."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest

from casemgmt.domain.routing import DEFAULT_ROUTING, RoutingError, RoutingRules
from casemgmt.domain.taxonomy import DEFAULT_KINDS, PROVINCIAL_UNITS, Taxonomy
from casemgmt.readmodels.work_queue_layout import (
    case_id_of,
    due_at,
    priority_band,
    queue_order,
    waiting_queue,
)

T0 = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)
FIRST_CASE = UUID(int=1)


@dataclass(frozen=True)
class Waiting:
    case_id: UUID = FIRST_CASE
    status: str = "triaged"
    unit: str | None = "hanoi"
    category_line: str | None = "social"
    category_kind: str | None = "procedure"
    priority: str = "normal"
    assignee: str | None = None
    queue: str | None = "social"
    received_at: datetime = T0


RULES = RoutingRules.from_toml(
    """
    [queues]
    default = "front-desk"

    [[queues.rules]]
    queue = "hcm-health"
    unit = "hcmc"
    line = "health"

    [[queues.rules]]
    queue = "complaints"
    kind = ["complaint", "suggestion"]

    [[queues.rules]]
    queue = "health"
    line = "health"
    """
)


@pytest.mark.parametrize(
    ("unit", "line", "kind", "queue"),
    [
        ("hcmc", "health", "procedure", "hcm-health"),
        ("hcmc", "health", "complaint", "hcm-health"),  # the first rule that matches wins
        ("hanoi", "health", "complaint", "complaints"),
        ("hanoi", "social", "suggestion", "complaints"),
        ("hanoi", "health", "procedure", "health"),
        (None, "health", None, "health"),
        ("hcmc", "social", "procedure", "front-desk"),
        (None, None, None, "front-desk"),
    ],
)
def test_a_case_goes_to_the_queue_of_the_first_rule_it_matches(
    unit: str | None, line: str | None, kind: str | None, queue: str
) -> None:
    case = Waiting(unit=unit, category_line=line, category_kind=kind)
    assert RULES.route(case) == queue


def test_the_built_in_rules_route_by_insurance_line_and_complaints_apart() -> None:
    assert DEFAULT_ROUTING.route(Waiting(category_line="health")) == "health"
    assert DEFAULT_ROUTING.route(Waiting(category_line="unemployment")) == "unemployment"
    assert (
        DEFAULT_ROUTING.route(Waiting(category_line="social", category_kind="complaint"))
        == "complaints"
    )
    assert DEFAULT_ROUTING.route(Waiting(category_line=None, category_kind=None)) == "general"
    assert DEFAULT_ROUTING.queue_names == [
        "complaints",
        "health",
        "unemployment",
        "social",
        "general",
    ]


def test_a_document_without_a_queues_section_keeps_the_built_in_rules() -> None:
    assert RoutingRules.from_toml('version = "vn-2026.1"') is DEFAULT_ROUTING


def test_rules_can_come_from_a_plain_mapping() -> None:
    rules = RoutingRules.from_mapping({"rules": [{"queue": "danang", "unit": ["danang"]}]})
    assert rules.route(Waiting(unit="danang")) == "danang"
    assert rules.route(Waiting(unit="hue")) == "general"


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ("[queues]\ndefault = ''", "queues.default: must name a queue"),
        ("[queues]\nrules = 'x'", "queues.rules: must be a list of tables"),
        ("[[queues.rules]]\nline = 'health'", "queues.rules[1].queue: must name a queue"),
        ("[[queues.rules]]\nqueue = 'q'\nline = 'pension'", "'pension' is not one of"),
        ("[[queues.rules]]\nqueue = 'q'\nkind = []", "must be a string or a list"),
        ("[[queues.rules]]\nqueue = 'q'\nchannel = 'email'", "unknown field(s) channel"),
        ("[queues", "queues: not valid TOML"),
    ],
)
def test_unusable_rules_are_refused_naming_the_rule_and_field(document: str, message: str) -> None:
    with pytest.raises(RoutingError, match=re.escape(message)):
        RoutingRules.from_toml(document)


CENTRE_OWN = Taxonomy(
    kinds=("pension-transfer", "card_reissue", "complaint"), units=("hanoi", "mobile-team-1")
)


def test_a_rule_may_route_the_kinds_and_units_of_the_taxonomy_in_force() -> None:
    rules = RoutingRules.from_mapping(
        {
            "rules": [
                {"queue": "pensions", "kind": "pension-transfer"},
                {"queue": "mobile", "unit": ["mobile-team-1"], "line": "health"},
            ]
        },
        CENTRE_OWN,
    )
    assert rules.route(Waiting(category_kind="pension-transfer")) == "pensions"
    assert rules.route(Waiting(unit="mobile-team-1", category_line="health")) == "mobile"
    assert rules.route(Waiting(unit="mobile-team-1", category_kind="complaint")) == "general"


@pytest.mark.parametrize(
    ("rule", "key", "refused", "valid"),
    [
        ({"kind": "procedure"}, "kind", "procedure", CENTRE_OWN.kinds),  # a default kind it dropped
        ({"kind": ["complaint", "gossip"]}, "kind", "gossip", CENTRE_OWN.kinds),
        ({"unit": "hcmc"}, "unit", "hcmc", CENTRE_OWN.units),  # a default unit it dropped
    ],
)
def test_a_rule_naming_a_kind_or_unit_outside_the_taxonomy_is_refused_listing_the_valid_ones(
    rule: dict[str, object], key: str, refused: str, valid: tuple[str, ...]
) -> None:
    with pytest.raises(RoutingError) as raised:
        RoutingRules.from_mapping({"rules": [{"queue": "a"}, {"queue": "b", **rule}]}, CENTRE_OWN)
    assert str(raised.value) == (
        f"queues.rules[2].{key}: {refused!r} is not one of: {', '.join(valid)}"
    )


def test_without_a_taxonomy_rules_are_checked_against_the_default_one() -> None:
    with pytest.raises(RoutingError) as kind:
        RoutingRules.from_mapping({"rules": [{"queue": "q", "kind": "pension-transfer"}]})
    with pytest.raises(RoutingError) as unit:
        RoutingRules.from_mapping({"rules": [{"queue": "q", "unit": "atlantis"}]})
    assert str(kind.value) == (
        f"queues.rules[1].kind: 'pension-transfer' is not one of: {', '.join(DEFAULT_KINDS)}"
    )
    assert str(unit.value).startswith("queues.rules[1].unit: 'atlantis' is not one of: central,")
    assert all(name in str(unit.value) for name in PROVINCIAL_UNITS)
    assert "\n" not in str(unit.value)


def test_a_rules_line_is_still_an_insurance_line_whatever_the_taxonomy() -> None:
    with pytest.raises(RoutingError) as raised:
        RoutingRules.from_mapping({"rules": [{"queue": "q", "line": "pension"}]}, CENTRE_OWN)
    assert str(raised.value) == (
        "queues.rules[1].line: 'pension' is not one of: social, unemployment, health"
    )


def test_the_built_in_rules_still_route_under_a_taxonomy_without_their_kinds() -> None:
    taxonomy = Taxonomy(kinds=("pension-transfer",))
    assert RoutingRules.from_toml("[taxonomy]\nkinds = ['x']", taxonomy) is DEFAULT_ROUTING
    assert DEFAULT_ROUTING.route(Waiting(category_kind="pension-transfer")) == "social"


@pytest.mark.parametrize(
    ("status", "assignee", "queue"),
    [
        ("received", None, None),  # not triaged yet
        ("triaged", None, "social"),
        ("in_progress", None, "social"),  # reopened or answered by the citizen, nobody on it
        ("in_progress", "lan.nguyen", None),
        ("awaiting_citizen", None, None),  # waits for the citizen, not for an agent
        ("resolved", None, None),
        ("closed", None, None),
        ("merged", None, None),
    ],
)
def test_a_case_waits_in_its_queue_only_while_nobody_has_it_and_work_is_due(
    status: str, assignee: str | None, queue: str | None
) -> None:
    assert waiting_queue(Waiting(status=status, assignee=assignee)) == queue


def test_urgent_cases_come_first_then_the_soonest_due_then_the_oldest() -> None:
    old_normal = Waiting(case_id=UUID(int=1), received_at=T0)
    new_urgent = Waiting(case_id=UUID(int=2), priority="urgent", received_at=T0 + timedelta(1))
    new_normal = Waiting(case_id=UUID(int=3), received_at=T0 + timedelta(hours=1))
    twin = Waiting(case_id=UUID(int=4), received_at=T0)
    oldest_low = Waiting(case_id=UUID(int=5), priority="low", received_at=T0 - timedelta(30))
    ordered = sorted([oldest_low, twin, new_normal, old_normal, new_urgent], key=queue_order)
    assert ordered == [new_urgent, old_normal, twin, new_normal, oldest_low]


def test_the_due_time_stands_in_as_the_moment_of_receipt_until_sla_clocks_exist() -> None:
    case = Waiting(received_at=T0)
    assert due_at(case) == T0
    assert queue_order(case)[0] == queue_order(replace(case, case_id=UUID(int=9)))[0]


def test_each_priority_has_a_band_of_scores_of_its_own() -> None:
    for rank, priority in enumerate(["urgent", "high", "normal", "low"]):
        low, high = priority_band(rank)
        for moment in (T0 - timedelta(days=3650), T0, T0 + timedelta(days=36500)):
            score, _ = queue_order(Waiting(priority=priority, received_at=moment))
            assert low <= score < high
            assert score == int(score) < 2**53  # held exactly by a Redis score


def test_a_queue_member_names_its_case() -> None:
    case_id = UUID("0fa4483f-3e7a-4c4f-9cc3-38a66f31f3de")
    _, member = queue_order(Waiting(case_id=case_id))
    assert case_id_of(member) == str(case_id)
