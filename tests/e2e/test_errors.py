"""What a caller is told when a request cannot be done: status and a problem saying why."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any
from uuid import uuid4

import pytest

from tests.e2e.conftest import Caller, inquiry, open_case

if TYPE_CHECKING:
    from werkzeug.test import TestResponse


def problem(response: TestResponse, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    body: dict[str, Any] = response.get_json()
    assert body["status"] == status
    assert {"type", "title", "detail"} <= set(body)
    return body


def test_missing_and_invalid_fields_are_named(intake: Caller) -> None:
    body = inquiry(channel="fax", priority="soon", requester={"kind": "citizen"})
    del body["subject"]

    errors = problem(intake.post("/api/v1/cases", body), 422)["errors"]

    assert set(errors) == {"channel", "subject", "priority", "requester.name"}
    assert "phone" in errors["channel"][0]
    assert errors["subject"] == ["Missing data for required field."]


def test_a_value_the_domain_refuses_is_named_too(intake: Caller) -> None:
    body = inquiry(subject="   ", received_at="2099-01-01T00:00:00+07:00")

    found = problem(intake.post("/api/v1/cases", body), 422)

    assert set(found["errors"]) <= {"subject", "received_at"}
    assert found["errors"]


@pytest.mark.parametrize(
    ("action", "body", "field"),
    [
        ("feedback", {"score": 6}, "score"),
        ("feedback", {"score": "5"}, "score"),
        ("merge", {"into": "not-a-uuid"}, "into"),
        ("reply", {}, "message"),
        ("note", {"text": "a\u0000b"}, "text"),
        ("close", {"reason": "extra"}, "reason"),
        ("escalate", [], "body"),
    ],
)
def test_an_action_with_a_bad_body_names_the_field(
    intake: Caller, admin: Caller, action: str, body: Any, field: str
) -> None:
    case = open_case(intake)

    assert field in problem(admin.act(case["id"], action, body), 422)["errors"]


def test_merging_into_an_unknown_case_names_the_field(intake: Caller, supervisor: Caller) -> None:
    case = open_case(intake)

    found = problem(supervisor.act(case["id"], "merge", {"into": str(uuid4())}), 422)

    assert "no case has the id" in found["errors"]["into"][0]


def test_malformed_json_is_a_bad_request(intake: Caller) -> None:
    response = intake.client.post(
        "/api/v1/cases",
        data=b'{"channel": "email",',
        headers=intake.headers(),
        content_type="application/json",
    )

    assert "not valid JSON" in problem(response, 400)["detail"]


@pytest.mark.parametrize(
    "data", [b'{"subject": "\xff\xfe"}', b"[" * 100_000, b'{"n": 1' + b"0" * 5000 + b"}"]
)
def test_a_body_that_cannot_be_decoded_is_a_bad_request(intake: Caller, data: bytes) -> None:
    response = intake.client.post(
        "/api/v1/cases", data=data, headers=intake.headers(), content_type="application/json"
    )

    problem(response, 400)


def test_a_body_that_is_not_json_is_an_unsupported_media_type(intake: Caller) -> None:
    response = intake.client.post(
        "/api/v1/cases", data="channel=email", headers=intake.headers(), content_type="text/plain"
    )

    assert "application/json" in problem(response, 415)["detail"]


def test_an_overlong_on_behalf_of_header_is_named(intake: Caller, agent: Caller) -> None:
    case = open_case(intake)

    found = problem(
        agent.act(case["id"], "note", {"text": "x"}, **{"X-On-Behalf-Of": "a" * 201}), 422
    )

    assert "X-On-Behalf-Of" in found["errors"]


def test_an_unknown_case_is_not_found(agent: Caller) -> None:
    case_id = str(uuid4())

    assert case_id in problem(agent.get(f"/api/v1/cases/{case_id}"), 404)["detail"]
    problem(agent.get(f"/api/v1/cases/{case_id}/history"), 404)
    problem(agent.act(case_id, "note", {"text": "x"}), 404)


def test_a_malformed_case_id_is_not_found(agent: Caller) -> None:
    problem(agent.get("/api/v1/cases/CC-2026-000001"), 404)
    problem(agent.act("42", "note", {"text": "x"}), 404)


def test_an_unknown_route_and_a_wrong_method_are_problems(agent: Caller) -> None:
    problem(agent.get("/api/v1/nothing-here"), 404)
    wrong = agent.client.delete("/api/v1/cases", headers=agent.headers())

    assert "DELETE" in problem(wrong, 405)["detail"]
    assert "POST" in wrong.headers["Allow"]


def test_a_refused_transition_names_the_state_and_the_allowed_actions(
    intake: Caller, supervisor: Caller
) -> None:
    case = open_case(intake)

    found = problem(supervisor.act(case["id"], "close"), 409)

    assert "received" in found["detail"]
    assert found["case_status"] == "received"
    assert "assign" in found["allowed_actions"]
    assert "close" not in found["allowed_actions"]


def test_a_stale_if_match_is_a_failed_precondition(intake: Caller, supervisor: Caller) -> None:
    case = open_case(intake)
    noted = supervisor.act(case["id"], "note", {"text": "một"})
    # 3 when opened (Received, SlaClockStarted ×2), 4 after the note.
    opened_at, noted_at = case["version"], noted.get_json()["version"]
    assert (opened_at, noted.headers["ETag"]) == (3, '"4"')

    stale = problem(
        supervisor.act(case["id"], "note", {"text": "hai"}, **{"If-Match": f'"{opened_at}"'}),
        412,
    )
    unquoted = supervisor.act(case["id"], "note", {"text": "ba"}, **{"If-Match": str(noted_at)})
    weak = supervisor.act(
        case["id"], "note", {"text": "bốn"}, **{"If-Match": f'W/"{noted_at + 1}"'}
    )
    garbage = supervisor.act(case["id"], "note", {"text": "năm"}, **{"If-Match": "three"})
    empty = supervisor.act(case["id"], "note", {"text": "sáu"}, **{"If-Match": ""})

    assert stale["current_version"] == noted_at
    assert f"version {noted_at}" in stale["detail"]
    assert unquoted.status_code == 200
    assert unquoted.headers["ETag"] == f'"{noted_at + 1}"'
    assert "names no version" in problem(weak, 412)["detail"]
    assert "If-Match must be one entity tag" in problem(garbage, 400)["detail"]
    problem(empty, 400)


def test_a_body_over_the_limit_is_too_large(intake: Caller) -> None:
    limit = intake.client.application.config["MAX_CONTENT_LENGTH"]
    body = inquiry(body="x" * limit)

    assert str(limit) in problem(intake.post("/api/v1/cases", body), 413)["detail"]


def test_an_unexpected_error_is_a_problem_without_a_traceback(
    agent: Caller, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = agent.client.application
    centre = app.extensions["casemgmt"].care_centre

    def broken(*_: Any, **__: Any) -> None:
        raise RuntimeError("secret internals")

    monkeypatch.setattr(centre, "history", broken)
    found = problem(agent.get(f"/api/v1/cases/{uuid4()}/history"), 500)

    assert "secret" not in str(found)
    assert found["correlation_id"]


def test_a_repeated_external_ref_with_other_content_is_a_conflict_that_shows_no_one_else(
    intake: Caller,
) -> None:
    first = inquiry()
    assert intake.post("/api/v1/cases", first).status_code == 201
    same = intake.post("/api/v1/cases", first)
    other = {**first, "requester": {"kind": "citizen", "name": "Lê Thị F", "id": "111"}}

    conflict = problem(intake.post("/api/v1/cases", other), 409)

    assert same.status_code == 200  # the same message again: the same case
    assert conflict["fields"] == ["requester"]
    assert "Nguyễn Văn A" not in json.dumps(conflict, ensure_ascii=False)


def test_an_intake_stamped_in_year_one_is_invalid(intake: Caller) -> None:
    found = problem(intake.post("/api/v1/cases", inquiry(received_at="0001-01-01T00:00:00Z")), 422)

    assert "implausibly old" in found["errors"]["received_at"][0]
