"""The audit trail through the API: what each event changed, the action log, the record of reads,
and who may reach it (auditors and admins), while auditors change nothing anywhere."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final
from uuid import uuid4

import pytest

from casemgmt.domain import Role
from tests.e2e.conftest import Caller, caught_up, open_case

if TYPE_CHECKING:
    from collections.abc import Callable

    from flask import Flask

    from casemgmt.bootstrap import Container
    from casemgmt.settings import Settings

WRITES: Final = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_ARGUMENT: Final = re.compile(r"<(?:(\w+):)?(\w+)>")


def history_of(caller: Caller, case_id: str) -> list[dict[str, Any]]:
    response = caller.get(f"/api/v1/cases/{case_id}/history")
    assert response.status_code == 200, response.get_json()
    history: list[dict[str, Any]] = response.get_json()
    return history


def work_a_case(intake: Caller, supervisor: Caller, agent: Caller) -> dict[str, Any]:
    """A case triaged, taken, answered, transferred, taken again and resolved."""
    case = open_case(intake, unit="hanoi", priority="normal")
    triage = {"category": {"line": "health", "kind": "complaint"}, "priority": "urgent"}
    steps = [
        (supervisor, "triage", triage),
        (agent, "assign", {}),
        (agent, "reply", {"message": "Đã nhận hồ sơ."}),
        (agent, "transfer", {"unit": "hue", "reason": "đúng địa bàn"}),
        (agent, "assign", {}),
        (agent, "resolve", {"resolution": "answered"}),
    ]
    for caller, action, body in steps:
        response = caller.act(case["id"], action, body)
        assert response.status_code == 200, (action, response.get_json())
    return case


def test_the_history_says_what_each_event_changed_in_words(
    intake: Caller, supervisor: Caller, agent: Caller
) -> None:
    case = work_a_case(intake, supervisor, agent)

    history = history_of(agent, case["id"])

    worked = [(e["type"], e["changes"]) for e in history if not e["type"].startswith("Sla")]
    surveyed = worked.pop()  # its changes are moments: checked apart
    worked.append((surveyed[0], [change.split(": — → ")[0] for change in surveyed[1]]))
    assert worked == [
        (
            "Received",
            [
                "status: — → received",
                "priority: — → normal",
                "category: — → social/procedure",
                "unit: — → hanoi",
                "escalation level: — → 0",
            ],
        ),
        (
            "Triaged",
            [
                "status: received → triaged",
                "priority: normal → urgent",
                "category: social/procedure → health/complaint",
            ],
        ),
        ("Assigned", ["status: triaged → in_progress", f"assignee: — → {agent.name}"]),
        ("Replied", []),
        (
            "Transferred",
            ["status: in_progress → triaged", "unit: hanoi → hue", f"assignee: {agent.name} → —"],
        ),
        ("Assigned", ["status: triaged → in_progress", f"assignee: — → {agent.name}"]),
        ("Resolved", ["status: in_progress → resolved", "resolution: — → answered"]),
        ("SurveyRequested", ["survey requested", "closes by itself"]),
    ]
    clocks = [change for e in history if e["type"].startswith("Sla") for change in e["changes"]]
    assert "first_response clock: — → running" in clocks
    assert "first_response clock: running → met" in clocks  # stopped by the reply
    assert "resolution clock: running → met" in clocks  # stopped by the resolution
    # Triaged urgent: the deadlines move, and the history says from when to when.
    moved = [c for c in clocks if c.startswith("first_response due: ") and "— →" not in c]
    assert moved, clocks
    old, new = moved[0].removeprefix("first_response due: ").split(" → ")
    assert datetime.fromisoformat(new) < datetime.fromisoformat(old)


def test_casemgmt_case_history_prints_the_same_as_a_table(
    app_settings: Settings, intake: Caller, supervisor: Caller, agent: Caller
) -> None:
    case = work_a_case(intake, supervisor, agent)
    assert app_settings.database_url is not None and app_settings.redis_url is not None
    env = {
        **os.environ,
        "CASEMGMT_DATABASE_URL": app_settings.database_url,
        "CASEMGMT_REDIS_URL": app_settings.redis_url,
    }

    printed = subprocess.run(
        [sys.executable, "-m", "casemgmt.cli", "case", "history", case["id"]],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert printed.returncode == 0, printed.stderr
    header, *lines = printed.stdout.splitlines()
    assert header.split() == ["version", "time", "type", "actor", "(role)", "cause", "changes"]
    assert len(lines) == len(history_of(agent, case["id"]))
    (triaged,) = [line for line in lines if " Triaged " in line]
    assert f"{supervisor.name} (supervisor)" in triaged
    assert "status: received → triaged; priority: normal → urgent" in triaged
    assert lines[0].split()[0] == "1"
    assert "channel:email" in lines[0]


def test_the_action_log_holds_every_event_as_the_history_shows_it_and_filters_it(
    projected: Container,
    intake: Caller,
    supervisor: Caller,
    agent: Caller,
    auditor: Caller,
) -> None:
    case = work_a_case(intake, supervisor, agent)
    history = history_of(agent, case["id"])
    caught_up(projected)

    def events(**query: Any) -> dict[str, Any]:
        response = auditor.get("/api/v1/audit/events", query_string=query)
        assert response.status_code == 200, response.get_json()
        found: dict[str, Any] = response.get_json()
        return found

    logged = events(case=case["reference"], per_page=200)
    assert logged["total"] == len(history)
    newest_first = logged["items"]
    for entry, item in zip(history, reversed(newest_first), strict=True):
        assert {key: item[key] for key in entry} == entry
        assert (item["case_id"], item["case_reference"]) == (case["id"], case["reference"])
    assert [item["unit"] for item in reversed(newest_first)][-1] == "hue"

    assigned = events(case=case["id"], actor=agent.name, type="Assigned")
    assert [item["version"] for item in assigned["items"]] == [
        entry["version"] for entry in reversed(history) if entry["type"] == "Assigned"
    ]
    triaged = events(case=case["id"], role="supervisor", type="Triaged,Transferred")
    assert [item["type"] for item in triaged["items"]] == ["Triaged"]
    in_hue = events(case=case["id"], unit="hue")
    transfer = next(entry for entry in history if entry["type"] == "Transferred")
    assert in_hue["total"] == len(history) - history.index(transfer)
    since = events(case=case["id"], **{"from": transfer["timestamp"]})
    moment = datetime.fromisoformat(transfer["timestamp"])
    later = [e for e in history if datetime.fromisoformat(e["timestamp"]) >= moment]
    assert since["total"] == len(later)
    before = events(case=case["id"], to=transfer["timestamp"], per_page=2, page=2)
    assert before["total"] == len(history) - since["total"]
    assert (before["page"], len(before["items"])) == (2, 2)
    assert before["pages"] == -(-before["total"] // 2)


def test_every_read_of_a_case_is_recorded_with_who_which_view_and_request(
    container: Container, intake: Caller, agent: Caller, auditor: Caller
) -> None:
    case = open_case(intake)
    path = f"/api/v1/cases/{case['id']}"
    now = datetime.now(UTC).isoformat()
    reads = [
        (path, {}, "case"),
        (path, {"as_of": now}, "case-as-of"),
        (path, {"version": 1}, "case-at-version"),
        (f"{path}/history", {}, "history"),
    ]
    for at, query, view in reads:
        on_behalf = {"X-On-Behalf-Of": "0123456789"}  # the requester, by their id
        headers = agent.headers(**{"X-Correlation-ID": f"read-{view}", **on_behalf})
        response = agent.client.get(at, query_string=query, headers=headers)
        assert response.status_code == 200, response.get_json()
    assert agent.get(f"/api/v1/cases/{uuid4()}").status_code == 404  # nothing was read
    container.reads.flush()  # else within 0.2 s

    found = auditor.get("/api/v1/audit/reads", query_string={"case": case["reference"]})

    assert found.status_code == 200, found.get_json()
    recorded = found.get_json()
    assert recorded["total"] == len(reads)
    assert [(r["view"], r["correlation_id"]) for r in reversed(recorded["items"])] == [
        (view, f"read-{view}") for _, _, view in reads
    ]
    for read in recorded["items"]:
        assert (read["account"], read["role"], read["on_behalf_of"]) == (
            agent.name,
            "agent",
            "requester",
        )
        assert (read["case_id"], read["case_reference"]) == (case["id"], case["reference"])
    by_agent = auditor.get("/api/v1/audit/reads", query_string={"actor": agent.name})
    assert by_agent.get_json()["total"] == len(reads)


# -- who may reach the audit trail, and that auditors change nothing ---------------------------


def routes(app: Flask, methods: frozenset[str], prefix: str = "/api/v1/") -> list[tuple[str, str]]:
    """Every (method, rule) of the app's URL map with one of `methods` under `prefix`."""
    return sorted(
        (method, rule.rule)
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith(prefix)
        for method in (rule.methods or set()) & methods
    )


def concrete(rule: str, case_id: str) -> str:
    """The rule's path with a real case for a UUID and a queue name for anything else."""
    return _ARGUMENT.sub(lambda m: case_id if m.group(1) == "uuid" else "general", rule)


def test_every_write_endpoint_refuses_an_auditor(
    app: Flask, intake: Caller, auditor: Caller
) -> None:
    case = open_case(intake)
    case_id = case["id"]
    writes = routes(app, WRITES)
    document = app.test_client().get("/api/v1/openapi.json").get_json()
    documented = {
        (method.upper(), path)
        for path, operations in document["paths"].items()
        for method in operations
        if method.upper() in WRITES
    }
    assert {(m, re.sub(r"\{(\w+)\}", r"<\1>", p)) for m, p in documented} <= {
        (m, _ARGUMENT.sub(r"<\2>", r)) for m, r in writes
    }
    assert len(writes) >= 16  # open, the 14 actions, claim

    for method, rule in writes:
        response = auditor.client.open(
            concrete(rule, case_id), method=method, json={}, headers=auditor.headers()
        )
        assert response.status_code == 403, (method, rule, response.get_json())
        assert response.get_json()["role"] == "auditor"
    assert auditor.get(f"/api/v1/cases/{case_id}").get_json()["version"] == case["version"]


@pytest.mark.parametrize("role", [Role.INTAKE, Role.AGENT, Role.SUPERVISOR])
def test_every_audit_endpoint_refuses_intake_agents_and_supervisors(
    app: Flask, caller: Callable[[Role], Caller], role: Role
) -> None:
    audit = routes(app, frozenset({"GET"}), prefix="/api/v1/audit/")
    assert [rule for _, rule in audit] == ["/api/v1/audit/events", "/api/v1/audit/reads"]
    someone = caller(role)

    for _, rule in audit:
        response = someone.get(rule)
        assert response.status_code == 403, rule
        refusal = response.get_json()
        assert (refusal["operation"], refusal["allowed_roles"]) == ("audit", ["admin", "auditor"])


@pytest.mark.parametrize("role", [Role.AUDITOR, Role.ADMIN])
def test_auditors_and_admins_reach_every_audit_endpoint(
    app: Flask, caller: Callable[[Role], Caller], role: Role
) -> None:
    someone = caller(role)
    for _, rule in routes(app, frozenset({"GET"}), prefix="/api/v1/audit/"):
        response = someone.get(rule, query_string={"per_page": 1})
        assert response.status_code == 200, (rule, response.get_json())
        assert response.get_json()["per_page"] == 1
