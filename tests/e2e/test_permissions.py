"""Who may do what: bearer tokens and the role table."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from casemgmt.application import OPERATIONS, PERMISSIONS
from casemgmt.domain import Role
from tests.e2e.conftest import Caller, inquiry, open_case

if TYPE_CHECKING:
    from collections.abc import Callable


def test_a_call_without_a_token_is_refused_with_a_bearer_challenge(intake: Caller) -> None:
    response = intake.client.post("/api/v1/cases", json=inquiry())

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert response.mimetype == "application/problem+json"
    assert "bearer token" in response.get_json()["detail"]


@pytest.mark.parametrize("authorization", ["Bearer not-a-token", "Basic dXNlcjpwYXNz", "Bearer "])
def test_an_unknown_token_or_another_scheme_is_refused(intake: Caller, authorization: str) -> None:
    response = intake.client.get(
        "/api/v1/cases/" + "0" * 8 + "-0000-0000-0000-" + "0" * 12,
        headers={"Authorization": authorization},
    )

    assert response.status_code == 401
    assert "Bearer" in response.headers["WWW-Authenticate"]


def test_an_auditor_reads_everything_and_changes_nothing(intake: Caller, auditor: Caller) -> None:
    case = open_case(intake)

    read = auditor.get(f"/api/v1/cases/{case['id']}")
    history = auditor.get(f"/api/v1/cases/{case['id']}/history")
    note = auditor.act(case["id"], "note", {"text": "đã xem"})
    opened = auditor.post("/api/v1/cases", inquiry())

    assert (read.status_code, history.status_code) == (200, 200)
    assert (note.status_code, opened.status_code) == (403, 403)
    assert note.get_json()["detail"] == "the role auditor may not note"
    assert (note.get_json()["role"], note.get_json()["operation"]) == ("auditor", "note")


def test_intake_opens_cases_adds_messages_and_feedback_but_does_not_work_them(
    intake: Caller,
) -> None:
    case = open_case(intake)

    assert intake.act(case["id"], "citizen-message", {"message": "bổ sung"}).status_code == 200
    refused = intake.act(case["id"], "assign", {"agent": "someone"})
    assert refused.status_code == 403
    assert refused.get_json()["detail"] == "the role intake may not assign"


def test_an_agent_takes_and_transfers_their_case_but_only_a_supervisor_triages_and_reassigns(
    intake: Caller, caller: Callable[[Role], Caller], supervisor: Caller
) -> None:
    first, second = caller(Role.AGENT), caller(Role.AGENT)
    case = open_case(intake)
    case_id = case["id"]

    assert first.act(case_id, "triage", {"category": {}, "priority": "low"}).status_code == 403
    assert first.act(case_id, "assign", {}).status_code == 200  # self-assign
    taken = second.act(case_id, "assign", {})
    assert taken.status_code == 403
    assert taken.get_json()["detail"] == "the role agent may not reassign"

    reassigned = supervisor.act(case_id, "assign", {"agent": second.name})
    assert reassigned.status_code == 200
    assert reassigned.get_json()["assignee"] == second.name
    handed_on = second.act(case_id, "assign", {"agent": first.name})  # their own case
    assert handed_on.status_code == 200
    moved = first.act(case_id, "transfer", {"unit": "hue", "reason": "đúng địa bàn"})
    assert moved.status_code == 200
    assert moved.get_json()["unit"] == "hue"


def test_an_agent_cannot_take_another_agents_case_by_unassigning_it(
    intake: Caller, caller: Callable[[Role], Caller], supervisor: Caller
) -> None:
    holder, other = caller(Role.AGENT), caller(Role.AGENT)
    case_id = open_case(intake)["id"]
    assert holder.act(case_id, "assign", {}).status_code == 200

    refused = other.act(case_id, "unassign", {})
    assert refused.status_code == 403
    assert refused.get_json()["detail"] == "the role agent may not reassign"
    assert other.act(case_id, "assign", {}).status_code == 403

    assert supervisor.act(case_id, "unassign", {}).status_code == 200
    assert holder.act(case_id, "assign", {}).status_code == 200
    given_up = holder.act(case_id, "unassign", {})  # their own case
    assert given_up.status_code == 200
    assert given_up.get_json()["assignee"] is None


def test_an_admin_may_do_everything(intake: Caller, admin: Caller) -> None:
    case = open_case(admin)

    assert (
        admin.act(case["id"], "triage", {"category": {}, "priority": "urgent"}).status_code == 200
    )
    assert PERMISSIONS[Role.ADMIN] == frozenset(OPERATIONS)


def test_every_account_role_has_a_row_in_the_permission_table() -> None:
    assert set(PERMISSIONS) == {Role.INTAKE, Role.AGENT, Role.SUPERVISOR, Role.AUDITOR, Role.ADMIN}
    assert PERMISSIONS[Role.AGENT] < PERMISSIONS[Role.SUPERVISOR] < PERMISSIONS[Role.ADMIN]
