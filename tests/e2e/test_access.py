"""Who may touch which case through the API: intake's narrowed view, X-On-Behalf-Of, whom a case
may be given to, and the accounts API with the token lifecycle."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from uuid import UUID, uuid4

import pytest

from casemgmt.api import create_app
from casemgmt.bootstrap import build
from casemgmt.domain import Role
from tests.e2e.conftest import Caller, caught_up, inquiry, new_token, open_case
from tests.support.servers import own_queue

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from flask import Flask

    from casemgmt.bootstrap import Container

# What an intake account may see of a case it opened: nothing else.
NARROWED = {
    "id",
    "reference",
    "status",
    "version",
    "channel",
    "external_ref",
    "received_at",
    "last_activity_at",
    "resolved_at",
    "closed_at",
    "messages",
}


def worked_case(intake: Caller, agent: Caller) -> dict[str, Any]:
    """A case the intake opened, that the agent took, replied to and noted, and whose requester
    wrote again through the intake."""
    case = open_case(intake)
    assert agent.act(case["id"], "assign", {}).status_code == 200
    assert agent.act(case["id"], "reply", {"message": "Đã nhận hồ sơ."}).status_code == 200
    assert agent.act(case["id"], "note", {"text": "nội bộ: hồ sơ thiếu"}).status_code == 200
    written = intake.act(case["id"], "citizen-message", {"message": "Tôi bổ sung ảnh CCCD."})
    assert written.status_code == 200, written.get_json()
    return case


# -- intake sees only what it needs -------------------------------------------------------------


def test_intake_reads_its_own_case_narrowed_to_what_it_needs(intake: Caller, agent: Caller) -> None:
    case = worked_case(intake, agent)

    read = intake.get(f"/api/v1/cases/{case['id']}")

    assert read.status_code == 200
    view = read.get_json()
    assert set(view) == NARROWED
    assert (view["reference"], view["status"]) == (case["reference"], "in_progress")
    texts = [message["text"] for message in view["messages"]]
    assert texts == [
        "Chưa nhận được sổ BHXH\n\nTôi đã nộp hồ sơ từ tháng trước nhưng chưa nhận được sổ.",
        "Tôi bổ sung ảnh CCCD.",
    ]  # its own: not the agent's reply, never the note
    assert "Nguyễn" not in read.get_data(as_text=True)  # nor the requester's identity
    assert read.headers["ETag"] == f'"{view["version"]}"'


def test_intake_cannot_find_a_case_another_channel_opened_nor_act_on_it(
    caller: Callable[[Role], Caller], agent: Caller
) -> None:
    mail, portal = caller(Role.INTAKE), caller(Role.INTAKE)
    case = worked_case(mail, agent)
    path = f"/api/v1/cases/{case['id']}"

    assert portal.get(path).status_code == 404
    assert portal.get(path, query_string={"version": 1}).status_code == 404
    written = portal.act(case["id"], "citizen-message", {"message": "x"})
    assert written.status_code == 404
    assert case["id"] in written.get_json()["detail"]  # as for a case that does not exist
    assert portal.act(case["id"], "feedback", {"score": 5}).status_code == 404


def test_intake_reads_no_history(intake: Caller) -> None:
    case = open_case(intake)

    refused = intake.get(f"/api/v1/cases/{case['id']}/history")

    assert refused.status_code == 403
    assert refused.get_json()["operation"] == "read-history"


def test_intake_is_answered_with_the_narrowed_view_when_it_opens_or_repeats_a_case(
    intake: Caller,
) -> None:
    body = inquiry()
    opened = intake.post("/api/v1/cases", body)
    again = intake.post("/api/v1/cases", body)

    assert (opened.status_code, again.status_code) == (201, 200)
    assert set(opened.get_json()) == set(again.get_json()) == NARROWED


@pytest.fixture(scope="module")
def listing_world(
    projected: Container, app: Flask, container: Container
) -> Iterator[dict[str, Any]]:
    """Two intake accounts' cases in a unit of their own, in the case list."""
    unit = own_queue()
    callers = {
        role: Caller(app.test_client(), new_token(container, role, name), name)
        for role, name in (
            (Role.INTAKE, f"mail-{uuid4().hex[:8]}"),
            (Role.SUPERVISOR, f"sup-{uuid4().hex[:8]}"),
        )
    }
    other_name = f"portal-{uuid4().hex[:8]}"
    other = Caller(app.test_client(), new_token(container, Role.INTAKE, other_name), other_name)
    mine = [open_case(callers[Role.INTAKE], unit=unit)["id"] for _ in range(2)]
    theirs = open_case(other, unit=unit)["id"]
    caught_up(projected)
    yield {"unit": unit, "intake": callers[Role.INTAKE], "supervisor": callers[Role.SUPERVISOR]} | {
        "mine": mine,
        "theirs": theirs,
    }


def test_intake_lists_only_the_cases_it_opened_narrowed(listing_world: dict[str, Any]) -> None:
    unit = listing_world["unit"]

    as_intake = listing_world["intake"].get("/api/v1/cases", query_string={"unit": unit})
    as_supervisor = listing_world["supervisor"].get("/api/v1/cases", query_string={"unit": unit})

    assert as_intake.status_code == 200
    items = as_intake.get_json()["items"]
    assert sorted(item["id"] for item in items) == sorted(listing_world["mine"])
    assert as_intake.get_json()["total"] == 2
    assert all(set(item) == NARROWED - {"messages"} for item in items)
    assert all(item["external_ref"].startswith("email-") for item in items)
    every = {item["id"] for item in as_supervisor.get_json()["items"]}
    assert every == {*listing_world["mine"], listing_world["theirs"]}


def test_rebuilding_the_case_list_refills_who_opened_each_case(
    projected: Container, listing_world: dict[str, Any]
) -> None:
    projected.datastore.execute(
        "UPDATE case_summaries SET opened_by = NULL WHERE unit = %s", [listing_world["unit"]]
    )
    projected.projections.rebuild("case_summaries")  # beside the module's running worker

    listed = listing_world["intake"].get(
        "/api/v1/cases", query_string={"unit": listing_world["unit"]}
    )
    assert sorted(item["id"] for item in listed.get_json()["items"]) == sorted(
        listing_world["mine"]
    )


# -- X-On-Behalf-Of ---------------------------------------------------------------------------


def test_on_behalf_of_names_only_the_cases_requester_and_is_recorded_without_their_name(
    intake: Caller, agent: Caller, supervisor: Caller
) -> None:
    as_supervisor = intake.post("/api/v1/cases", inquiry(), **{"X-On-Behalf-Of": supervisor.name})
    as_role = intake.post("/api/v1/cases", inquiry(), **{"X-On-Behalf-Of": "supervisor"})
    for_requester = intake.post("/api/v1/cases", inquiry(), **{"X-On-Behalf-Of": "Nguyễn Văn A"})

    assert (as_supervisor.status_code, as_role.status_code) == (403, 403)
    assert "X-On-Behalf-Of may name only the requester" in as_supervisor.get_json()["detail"]
    assert for_requester.status_code == 201
    case_id = for_requester.get_json()["id"]
    assert agent.act(case_id, "assign", {}).status_code == 200
    impersonating = agent.act(
        case_id, "reply", {"message": "…"}, **{"X-On-Behalf-Of": supervisor.name}
    )
    assert impersonating.status_code == 403
    for_them = agent.act(case_id, "reply", {"message": "Dạ."}, **{"X-On-Behalf-Of": "requester"})
    assert for_them.status_code == 200
    history = supervisor.get(f"/api/v1/cases/{case_id}/history").get_json()
    assert [
        e["actor"]["on_behalf_of"] for e in history if e["type"] in ("Received", "Replied")
    ] == [
        "requester",
        "requester",
    ]
    assert "Nguyễn Văn A" not in str([entry["actor"] for entry in history])
    impersonated = supervisor.headers(**{"X-On-Behalf-Of": agent.name})
    assert (
        supervisor.client.get(f"/api/v1/cases/{case_id}", headers=impersonated).status_code == 403
    )


def test_a_claim_on_behalf_of_anyone_is_refused_before_a_case_is_taken(
    projected: Container, intake: Caller, supervisor: Caller, agent: Caller
) -> None:
    queue = own_queue()
    case = open_case(intake, unit=queue)
    assert (
        supervisor.act(
            case["id"], "triage", {"category": {}, "priority": "low", "unit": queue}
        ).status_code
        == 200
    )
    caught_up(projected)

    refused = agent.post(f"/api/v1/queues/{queue}/claim", **{"X-On-Behalf-Of": "requester"})

    assert refused.status_code == 403
    assert "claim without it" in refused.get_json()["detail"]
    waiting = [item.case_id for item in projected.work_queues.queue_items(queue)]
    assert waiting == [UUID(case["id"])]  # still in its queue


# -- whom a case may be given to --------------------------------------------------------------


def test_assign_to_a_name_that_is_no_account_or_an_auditor_is_refused_naming_the_field(
    intake: Caller, supervisor: Caller, auditor: Caller
) -> None:
    case = open_case(intake)

    ghost = supervisor.act(case["id"], "assign", {"agent": "ghost"})
    to_auditor = supervisor.act(case["id"], "assign", {"agent": auditor.name})

    assert (ghost.status_code, to_auditor.status_code) == (422, 422)
    assert ghost.get_json()["errors"] == {"agent": ["no account is named 'ghost'"]}
    assert "cannot hold cases" in to_auditor.get_json()["errors"]["agent"][0]
    assert supervisor.get(f"/api/v1/cases/{case['id']}").get_json()["assignee"] is None


# -- the accounts API and the token lifecycle ---------------------------------------------------


def test_an_admin_creates_lists_disables_enables_and_rotates_accounts(
    admin: Caller, auditor: Caller, intake: Caller
) -> None:
    name = f"lan.nguyen-{uuid4().hex[:8]}"
    created = admin.post("/api/v1/accounts", {"name": name, "role": "agent", "expires_in_days": 90})
    assert created.status_code == 201, created.get_json()
    token = created.get_json()["token"]
    as_new = Caller(admin.client, token, name)
    assert as_new.get("/api/v1/queues").status_code == 200

    disabled = admin.post(f"/api/v1/accounts/{name}/disable")
    assert (disabled.status_code, disabled.get_json()["state"]) == (200, "disabled")
    refused = as_new.get("/api/v1/queues")
    assert refused.status_code == 401
    assert "disabled" in refused.get_json()["detail"]
    assert admin.post(f"/api/v1/accounts/{name}/enable").status_code == 200
    assert as_new.get("/api/v1/queues").status_code == 200

    rotated = admin.post(f"/api/v1/accounts/{name}/rotate")
    assert rotated.status_code == 200
    assert as_new.get("/api/v1/queues").status_code == 401  # the old token, at once
    assert (
        Caller(admin.client, rotated.get_json()["token"], name).get("/api/v1/queues").status_code
        == 200
    )

    listed = {a["name"]: a for a in admin.get("/api/v1/accounts").get_json()}
    assert listed[name]["role"] == "agent"
    assert listed[name]["last_used_at"] is not None
    assert "token" not in listed[name]
    changes = auditor.get(f"/api/v1/accounts/{name}/changes")
    assert changes.status_code == 200
    assert [(c["change"], c["changed_by"]) for c in changes.get_json()] == [
        ("created", admin.name),
        ("disabled", admin.name),
        ("enabled", admin.name),
        ("rotated", admin.name),
    ]
    assert intake.get("/api/v1/accounts").status_code == 403
    assert auditor.post(f"/api/v1/accounts/{name}/disable").status_code == 403


def test_accounts_api_errors_are_problems(admin: Caller) -> None:
    name = f"dup-{uuid4().hex[:8]}"
    assert admin.post("/api/v1/accounts", {"name": name, "role": "agent"}).status_code == 201

    again = admin.post("/api/v1/accounts", {"name": name, "role": "agent"})
    unknown = admin.post("/api/v1/accounts/nobody-here/disable")
    bad = admin.post("/api/v1/accounts", {"name": "has space", "role": "janitor"})

    assert (again.status_code, unknown.status_code, bad.status_code) == (409, 404, 422)
    assert unknown.mimetype == "application/problem+json"
    assert set(bad.get_json()["errors"]) == {"name", "role"}


def test_an_expired_token_is_refused_on_its_next_request_saying_it_expired(
    container: Container,
) -> None:
    moment = [datetime.now(UTC)]
    timed = build(container.settings, clock=lambda: moment[0])
    try:
        client = create_app(container.settings, timed).test_client()
        _, token = timed.accounts.add(
            f"portal-{uuid4().hex[:8]}", Role.INTAKE, expires_in=timedelta(days=1)
        )
        caller = Caller(client, token, "portal")
        assert caller.post("/api/v1/cases", inquiry()).status_code == 201

        moment[0] += timedelta(days=1)
        refused = caller.post("/api/v1/cases", inquiry())

        assert refused.status_code == 401
        assert "expired at" in refused.get_json()["detail"]
    finally:
        timed.close()
