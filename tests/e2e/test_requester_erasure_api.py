"""`POST /api/v1/requesters/erase`: admins erase a requester; every other role gets 403."""

from __future__ import annotations

from typing import TYPE_CHECKING
from uuid import uuid4

import pytest

from casemgmt.domain import Role
from casemgmt.domain.requests import ERASED

if TYPE_CHECKING:
    from collections.abc import Callable

    from tests.e2e.conftest import Caller

ERASE = "/api/v1/requesters/erase"


def open_case_of(intake: Caller, requester_id: str) -> str:
    response = intake.post(
        "/api/v1/cases",
        {
            "channel": "web_portal",
            "subject": "Hỏi về BHYT",
            "body": "Tôi là Phạm Văn Xoá",
            "requester": {
                "kind": "citizen",
                "id": requester_id,
                "name": "Phạm Văn Xoá",
                "contact": "pham.xoa@mail.vn",
            },
        },
    )
    assert response.status_code == 201, response.get_json()
    return str(response.get_json()["id"])


def test_an_admin_erases_a_requester_and_the_case_shows_the_data_erased(
    caller: Callable[[Role | str], Caller], intake: Caller
) -> None:
    requester_id = f"09{uuid4().int % 10**10:010d}"
    case_id = open_case_of(intake, requester_id)
    admin = caller(Role.ADMIN)

    response = admin.post(ERASE, {"requester_id": requester_id, "reason": "request ER-7"})

    assert response.status_code == 200, response.get_json()
    assert response.get_json()["cases"] == 1
    shown = admin.get(f"/api/v1/cases/{case_id}").get_json()
    assert shown["requester"]["name"] == ERASED
    assert shown["requester"]["id"] is None and shown["requester"]["contact"] is None
    history = admin.get(f"/api/v1/cases/{case_id}/history").get_json()
    entries = history["items"] if isinstance(history, dict) else history
    assert entries[-1]["type"] == "RequesterErased"
    assert requester_id not in str(entries)
    again = admin.post(ERASE, {"requester_id": requester_id, "reason": "again"})
    assert again.status_code == 404
    assert again.headers["Content-Type"] == "application/problem+json"


@pytest.mark.parametrize("role", [Role.INTAKE, Role.AGENT, Role.SUPERVISOR, Role.AUDITOR])
def test_only_an_admin_may_erase(caller: Callable[[Role | str], Caller], role: Role) -> None:
    response = caller(role).post(ERASE, {"requester_id": "0123456789", "reason": "why"})
    assert response.status_code == 403
    assert response.get_json()["allowed_roles"] == ["admin"]


def test_an_erasure_without_a_reason_is_refused_with_the_field_named(
    caller: Callable[[Role | str], Caller],
) -> None:
    response = caller(Role.ADMIN).post(ERASE, {"requester_id": "0123456789"})
    assert response.status_code == 422
    assert "reason" in response.get_json()["errors"]
