"""Every route × every role × (for a case) whose case it is: who is let through and who is not.

The expected table is written out here by hand, not derived from `casemgmt.application`'s
permission table, so that a wrong entry there shows up as a difference here. The routes are walked
from the app's URL map: a route without a row here fails `test_every_route_has_a_row`.

"ok" means let through: for an action on a case, refused only by the stale `If-Match` the request
carries on purpose (412), so nothing is changed; elsewhere any answer but 401, 403 and 404.
For a case route a cell is (own case, someone else's case): for an agent the case assigned to
them and one assigned to another agent; for intake the case it opened and one another intake
account opened. Roles without ownership rules have the same answer for both.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final
from uuid import uuid4

import pytest

from casemgmt.domain import Actor, Context, Role
from casemgmt.domain.sessions import SessionKind
from tests.e2e.conftest import Caller, inquiry, new_token, open_case

if TYPE_CHECKING:
    from flask import Flask
    from werkzeug.test import TestResponse

    from casemgmt.bootstrap import Container

OK: Final = "ok"
ROLES: Final = ("intake", "agent", "supervisor", "auditor", "admin")
PUBLIC: Final = "public"  # no token needed; every role (and nobody) let through

Cell = str | int | tuple[str | int, str | int]


def row(**cells: Cell) -> dict[str, Cell]:
    assert set(cells) == set(ROLES), f"a row names every role: {sorted(cells)}"
    return cells


def only(*roles: str) -> dict[str, Cell]:
    """A route outside any case: the roles named are let through, the others refused 403."""
    return {role: OK if role in roles else 403 for role in ROLES}


# A worker's action on a case: the agent on their own case only; supervisors and admins on any.
WORK: Final = row(intake=403, agent=(OK, 403), supervisor=(OK, OK), auditor=403, admin=(OK, OK))
# What the requester says through intake: intake on the cases it opened (others are not found).
REQUESTERS_VOICE: Final = row(
    intake=(OK, 404), agent=(OK, 403), supervisor=(OK, OK), auditor=403, admin=(OK, OK)
)
SUPERVISORS_ONLY: Final = row(
    intake=403, agent=403, supervisor=(OK, OK), auditor=403, admin=(OK, OK)
)
CASE: Final = "/api/v1/cases/<uuid:case_id>"
SESSION: Final = "/api/v1/sessions/<uuid:session_id>"

EXPECTED: Final[dict[tuple[str, str], dict[str, Cell] | str]] = {
    ("GET", "/api/v1/cases"): only(*ROLES),  # intake: its own cases only (test_access.py)
    ("POST", "/api/v1/cases"): only("intake", "admin"),
    ("GET", CASE): row(
        intake=(OK, 404), agent=(OK, OK), supervisor=(OK, OK), auditor=(OK, OK), admin=(OK, OK)
    ),
    # Every role may read by reference; this world has no case list running, so a reference is
    # not found (404, not 401 or 403). Intake's own-cases rule: test_finding_cases.py.
    ("GET", "/api/v1/cases/by-reference/<reference>"): row(
        intake=404, agent=404, supervisor=404, auditor=404, admin=404
    ),
    ("GET", f"{CASE}/history"): row(
        intake=403, agent=(OK, OK), supervisor=(OK, OK), auditor=(OK, OK), admin=(OK, OK)
    ),
    ("GET", f"{CASE}/verify"): row(
        intake=403, agent=403, supervisor=403, auditor=(OK, OK), admin=(OK, OK)
    ),
    ("POST", f"{CASE}/triage"): SUPERVISORS_ONLY,
    ("POST", f"{CASE}/assign"): WORK,  # to oneself: taking another agent's case is reassigning
    ("POST", f"{CASE}/unassign"): WORK,
    ("POST", f"{CASE}/reply"): WORK,
    ("POST", f"{CASE}/note"): WORK,
    ("POST", f"{CASE}/request-info"): WORK,
    ("POST", f"{CASE}/citizen-message"): REQUESTERS_VOICE,
    ("POST", f"{CASE}/escalate"): WORK,
    ("POST", f"{CASE}/transfer"): WORK,
    ("POST", f"{CASE}/resolve"): WORK,
    ("POST", f"{CASE}/reopen"): WORK,
    ("POST", f"{CASE}/close"): WORK,
    ("POST", f"{CASE}/merge"): WORK,
    ("POST", f"{CASE}/feedback"): REQUESTERS_VOICE,
    ("GET", "/api/v1/queues"): only("agent", "supervisor", "auditor", "admin"),
    ("GET", "/api/v1/queues/<string:name>"): only("agent", "supervisor", "auditor", "admin"),
    ("POST", "/api/v1/queues/<string:name>/claim"): only("agent", "supervisor", "admin"),
    ("GET", "/api/v1/sla/breaches"): only("agent", "supervisor", "auditor", "admin"),
    ("GET", "/api/v1/sla/at-risk"): only("agent", "supervisor", "auditor", "admin"),
    ("GET", "/api/v1/audit/events"): only("auditor", "admin"),
    ("GET", "/api/v1/audit/reads"): only("auditor", "admin"),
    ("GET", "/api/v1/reports/summary"): only("supervisor", "auditor", "admin"),
    ("GET", "/api/v1/reports/analysis"): only("supervisor", "auditor", "admin"),
    ("GET", "/api/v1/accounts"): only("admin"),
    ("POST", "/api/v1/accounts"): only("admin"),
    ("POST", "/api/v1/accounts/<string:name>/disable"): only("admin"),
    ("POST", "/api/v1/accounts/<string:name>/enable"): only("admin"),
    ("POST", "/api/v1/accounts/<string:name>/rotate"): only("admin"),
    ("GET", "/api/v1/accounts/<string:name>/changes"): only("auditor", "admin"),
    ("POST", "/api/v1/requesters/erase"): only("admin"),
    ("GET", "/api/v1/sessions"): only("agent", "supervisor", "auditor", "admin"),
    ("POST", "/api/v1/sessions"): only("supervisor", "admin"),
    ("GET", f"{SESSION}"): only("agent", "supervisor", "auditor", "admin"),
    ("POST", f"{SESSION}/held"): only("supervisor", "admin"),
    ("POST", f"{SESSION}/questions"): only("agent", "supervisor", "admin"),
    ("GET", "/api/v1/health"): PUBLIC,
    ("GET", "/api/v1/metrics"): PUBLIC,
    ("GET", "/api/v1/openapi.json"): PUBLIC,
    ("GET", "/api/v1/docs"): PUBLIC,
    ("GET", "/docs"): PUBLIC,
    ("GET", "/docs/assets/<name>"): PUBLIC,
    ("GET", "/docs/assets/casemgmt-docs.js"): PUBLIC,
    ("GET", "/static/<path:filename>"): PUBLIC,
}

# Bodies that pass validation, so that what answers is who may (and then the stale If-Match).
ACTION_BODIES: Final[dict[str, dict[str, Any]]] = {
    "triage": {"category": {}, "priority": "low"},
    "assign": {},
    "unassign": {},
    "reply": {"message": "Dạ."},
    "note": {"text": "ghi chú"},
    "request-info": {"message": "Số CCCD?"},
    "citizen-message": {"message": "Bổ sung."},
    "escalate": {"reason": "gấp"},
    "transfer": {"unit": "hue", "reason": "địa bàn"},
    "resolve": {"resolution": "đã trả lời"},
    "reopen": {"reason": "chưa xong"},
    "close": {},
    "merge": {"into": str(uuid4())},
    "feedback": {"score": 5},
}
STALE: Final = {"If-Match": '"999999"'}


def routes(app: Flask) -> set[tuple[str, str]]:
    return {
        (method, rule.rule)
        for rule in app.url_map.iter_rules()
        for method in rule.methods or ()
        if method not in ("HEAD", "OPTIONS")
    }


class World:
    """One caller per role, two cases (the callers' own and someone else's), a spare account."""

    def __init__(self, app: Flask, container: Container) -> None:
        def caller(role: Role) -> Caller:
            name = f"{role}-{uuid4().hex[:8]}"
            return Caller(app.test_client(), new_token(container, role, name), name)

        self.callers = {role.value: caller(role) for role in Role if role is not Role.SYSTEM}
        other_intake, other_agent = caller(Role.INTAKE), caller(Role.AGENT)
        supervisor = self.callers["supervisor"]
        self.own = open_case(self.callers["intake"])["id"]
        self.other = open_case(other_intake)["id"]
        for case_id, agent in ((self.own, self.callers["agent"]), (self.other, other_agent)):
            given = supervisor.act(case_id, "assign", {"agent": agent.name})
            assert given.status_code == 200, given.get_json()
        self.spare = f"spare-{uuid4().hex[:8]}"
        new_token(container, Role.AGENT, self.spare)
        self.anonymous = app.test_client()
        self.session = container.care_sessions.schedule(
            kind=SessionKind.QA,
            topic="Hỏi đáp chính sách BHYT học sinh",
            unit="hue",
            scheduled_for=datetime(2026, 9, 5, 8, tzinfo=UTC),
            ctx=Context(Actor("planner", Role.SUPERVISOR), container.clock(), "matrix", "test"),
        ).id

    def request(self, role: str, method: str, rule: str, case_id: str | None) -> TestResponse:
        caller = self.callers[role]
        path = self.path(rule, case_id)
        if method == "GET":
            return caller.get(path)
        segment = rule.rsplit("/", 1)[-1]
        if rule.startswith(CASE + "/"):
            return caller.act(str(case_id), segment, ACTION_BODIES[segment], **STALE)
        if rule == "/api/v1/cases":
            return caller.post(path, inquiry())
        if rule == "/api/v1/accounts":
            return caller.post(path, {"name": f"new-{uuid4().hex[:8]}", "role": "agent"})
        return caller.post(path, {})

    def path(self, rule: str, case_id: str | None) -> str:
        fills = {
            "<uuid:case_id>": str(case_id),
            "<uuid:session_id>": str(self.session),
            "<string:name>": self.spare if "/accounts/" in rule else "general",
            "<name>": "swagger-ui.css",
            "<path:filename>": "none.txt",
            "<reference>": "CC-1999-999999",
        }
        for placeholder, value in fills.items():
            rule = rule.replace(placeholder, value)
        return rule


@pytest.fixture(scope="module")
def world(app: Flask, container: Container) -> World:
    return World(app, container)


def test_every_route_has_a_row_and_every_row_a_route(app: Flask) -> None:
    present = routes(app)
    assert sorted(present - set(EXPECTED)) == [], "routes without a row in the access matrix"
    assert sorted(set(EXPECTED) - present) == [], "rows of the access matrix without a route"


def test_auditors_change_nothing_anywhere() -> None:
    for (method, rule), expected in EXPECTED.items():
        if method != "GET":
            assert isinstance(expected, dict), (method, rule)
            assert expected["auditor"] == 403, (method, rule)


def _let_through(response: TestResponse, rule: str, method: str) -> bool:
    if rule.startswith(CASE + "/") and method == "POST":
        assert response.status_code in (403, 404, 412), response.get_data(as_text=True)
        return response.status_code == 412
    return response.status_code not in (401, 403, 404)


@pytest.mark.parametrize(("method", "rule"), sorted(EXPECTED), ids=str)
def test_each_role_is_let_through_or_refused_as_the_matrix_says(
    world: World, method: str, rule: str
) -> None:
    expected = EXPECTED[(method, rule)]
    if not isinstance(expected, dict):
        for role in ROLES:
            response = world.request(role, method, rule, None)
            assert response.status_code not in (401, 403), (role, response.status_code)
        return
    anonymous = world.anonymous.open(world.path(rule, world.own), method=method, json={})
    assert anonymous.status_code == 401, "a route that needs no token"
    for role, cell in expected.items():
        cases = (world.own, world.other) if rule.startswith(CASE) else (None,)
        wanted = cell if isinstance(cell, tuple) else (cell,) * len(cases)
        for case_id, outcome in zip(cases, wanted, strict=True):
            response = world.request(role, method, rule, case_id)
            whose = "own" if case_id == world.own else "other's" if case_id else "-"
            where = f"{role} on {whose} case: {response.get_data(as_text=True)[:300]}"
            if outcome == OK:
                assert _let_through(response, rule, method), where
            else:
                assert response.status_code == outcome, where
