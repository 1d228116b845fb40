"""What integrators stumbled on: finding a case by its reference, an id that is not a UUID, a
moment whose `+` came unencoded, and problem bodies that end as success bodies do."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any
from uuid import uuid4

import pytest

from casemgmt.api import create_app
from tests.e2e.conftest import caught_up, open_case

if TYPE_CHECKING:
    from flask import Flask
    from werkzeug.test import TestResponse

    from casemgmt.bootstrap import Container
    from tests.e2e.conftest import Caller

HANOI = timezone(timedelta(hours=7))


@pytest.fixture(scope="module")
def app(projected: Container) -> Flask:
    """The API on a casemgmt whose projections run: a reference is found in the case list."""
    return create_app(projected.settings, projected)


def listed_case(projected: Container, caller: Caller) -> dict[str, Any]:
    """A new case, once the case list has it."""
    case = open_case(caller)
    caught_up(projected)
    return case


def problem(response: TestResponse, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    body: dict[str, Any] = response.get_json()
    return body


# -- by reference --------------------------------------------------------------------------------


def test_a_case_is_read_by_its_reference_as_by_its_id(
    projected: Container, intake: Caller, agent: Caller, auditor: Caller
) -> None:
    case = listed_case(projected, intake)

    by_reference = agent.get(f"/api/v1/cases/by-reference/{case['reference']}")
    by_id = agent.get(f"/api/v1/cases/{case['id']}")

    assert by_reference.status_code == 200, by_reference.get_json()
    assert by_reference.get_json() == by_id.get_json()
    assert by_reference.headers["ETag"] == by_id.headers["ETag"] == '"3"'
    assert by_reference.headers["Content-Location"].endswith(f"/api/v1/cases/{case['id']}")
    at_version = agent.get(f"/api/v1/cases/by-reference/{case['reference']}?version=1")
    assert at_version.get_json()["version"] == 1
    projected.reads.flush()
    reads = auditor.get("/api/v1/audit/reads", query_string={"case": case["reference"]})
    assert [read["view"] for read in reads.get_json()["items"]] == [
        "case-at-version",
        "case",
        "case",
    ]


def test_an_intake_account_finds_by_reference_only_the_cases_it_opened(
    projected: Container, intake: Caller, caller: Any
) -> None:
    case = listed_case(projected, intake)
    other = caller("intake")

    own = intake.get(f"/api/v1/cases/by-reference/{case['reference']}")
    hidden = other.get(f"/api/v1/cases/by-reference/{case['reference']}")

    assert own.status_code == 200
    assert set(own.get_json()) == set(intake.get(f"/api/v1/cases/{case['id']}").get_json())
    detail = problem(hidden, 404)["detail"]
    assert case["reference"] in detail
    assert case["id"] not in detail, "the case's id is revealed to an account that may not see it"


def test_an_unknown_reference_is_not_found_saying_what_a_reference_looks_like(
    agent: Caller,
) -> None:
    found = problem(agent.get("/api/v1/cases/by-reference/CC-1999-999999"), 404)

    assert found["type"] == "urn:casemgmt:problem:case-not-found"
    assert "CC-1999-999999" in found["detail"]
    assert "CC-2026-000001" in found["detail"]


def test_the_case_list_is_filtered_by_reference(
    projected: Container, intake: Caller, agent: Caller
) -> None:
    first, second = listed_case(projected, intake), listed_case(projected, intake)
    references = f"{first['reference']},{second['reference']},CC-1999-999999"

    page = agent.get("/api/v1/cases", query_string={"reference": references}).get_json()
    one = agent.get("/api/v1/cases", query_string={"reference": first["reference"]}).get_json()

    assert {item["id"] for item in page["items"]} == {first["id"], second["id"]}
    assert [item["id"] for item in one["items"]] == [first["id"]]
    assert one["total"] == 1


def test_a_path_id_that_is_not_a_uuid_says_what_is_expected(agent: Caller) -> None:
    for path in ("/api/v1/cases/CC-2026-000001", "/api/v1/cases/CC-2026-000001/history"):
        detail = problem(agent.get(path), 404)["detail"]
        assert "UUID" in detail
        assert "/api/v1/cases/by-reference/CC-2026-000001" in detail
    unknown = problem(agent.get(f"/api/v1/cases/{uuid4()}/nothing"), 404)["detail"]
    assert "UUID" not in unknown, "a UUID that was given is not the problem"


# -- moments in a query --------------------------------------------------------------------------


def test_an_as_of_whose_plus_came_unencoded_is_read_as_a_plus(
    intake: Caller, auditor: Caller
) -> None:
    case = open_case(intake)
    later = datetime.now(UTC) + timedelta(seconds=1)  # the case as opened: a moment after
    moment = later.astimezone(HANOI).replace(microsecond=0).isoformat()  # "…+07:00"
    encoded = moment.replace("+", "%2B")
    path = f"/api/v1/cases/{case['id']}"

    unencoded = auditor.get(f"{path}?as_of={moment}")  # `+` arrives as a space
    as_meant = auditor.get(f"{path}?as_of={encoded}")

    assert unencoded.status_code == 200, unencoded.get_json()
    assert unencoded.get_json() == as_meant.get_json()
    spaced = auditor.get(f"{path}?as_of=2026-12-01T10:00:00%2007:00")
    assert spaced.status_code == 404  # before the case was received
    assert "did not exist yet at 2026-12-01T10:00:00+07:00" in spaced.get_json()["detail"]


def test_a_moment_that_cannot_be_read_says_how_to_write_one(auditor: Caller) -> None:
    path = f"/api/v1/cases/{uuid4()}"

    errors = problem(auditor.get(f"{path}?as_of=1.12.2026 10:00"), 422)["errors"]
    naive = problem(auditor.get(f"{path}?as_of=2026-12-01T10:00:00"), 422)["errors"]
    audit = problem(auditor.get("/api/v1/audit/reads?from=yesterday"), 422)["errors"]

    assert "2026-12-01T10:00:00+07:00" in errors["as_of"][0]
    assert "%2B" in errors["as_of"][0]
    assert "offset" in naive["as_of"][0]
    assert "%2B" in audit["from"][0]


# -- bodies --------------------------------------------------------------------------------------


def test_problem_bodies_end_with_a_newline_as_success_bodies_do(
    intake: Caller, agent: Caller
) -> None:
    case = open_case(intake)
    answers = [
        (agent.get(f"/api/v1/cases/{case['id']}"), 200),
        (agent.get(f"/api/v1/cases/{uuid4()}"), 404),
        (agent.get("/api/v1/cases?status=nonsense"), 422),
        (agent.client.get("/api/v1/cases"), 401),
        (agent.act(case["id"], "close"), 403),
    ]

    for response, status in answers:
        assert response.status_code == status, response.get_data(as_text=True)
        assert response.get_data().endswith(b"}\n"), (status, response.get_data()[-20:])
