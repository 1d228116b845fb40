"""`GET /api/v1/reports/summary` through the HTTP API: its shape, CSV, permissions and refusals,
and the active care it counts (sessions scheduled, held and questioned through the API)."""

from __future__ import annotations

import csv
import io
from typing import TYPE_CHECKING, Any

import pytest

from casemgmt.api.reports import active_care_columns, csv_columns
from tests.e2e.conftest import caught_up

if TYPE_CHECKING:
    from collections.abc import Callable

    from casemgmt.bootstrap import Container
    from tests.e2e.conftest import Caller

SUMMARY = "/api/v1/reports/summary"
PERIOD = "from=2000-01-01T00:00:00Z&to=2100-01-01T00:00:00Z"
FIGURES = {
    "received",
    "resolved",
    "open",
    "first_response",
    "resolution",
    "reopen_rate",
    "transfer_rate",
    "escalation_rate",
    "merge_rate",
    "satisfaction",
}
ACTIVE_CARE = {"scheduled", "held", "attendance", "questions_raised"}
# A day no other test schedules a session on or receives a case in.
SESSIONS_DAY = "from=2024-02-01T00:00:00%2B07:00&to=2024-02-02T00:00:00%2B07:00"


@pytest.fixture
def supervisor(caller: Callable[[str], Caller]) -> Caller:
    return caller("supervisor")


def test_summary_has_the_shape_integrations_rely_on(supervisor: Caller) -> None:
    response = supervisor.get(f"{SUMMARY}?{PERIOD}&group_by=channel&group_by=unit")
    assert response.status_code == 200, response.json
    body = response.get_json()
    assert set(body) == {"from", "to", "group_by", "total", "groups", "active_care"}
    assert set(body["active_care"]) == ACTIVE_CARE | {"by_kind", "by_unit", "by_line"}
    assert body["group_by"] == ["channel", "unit"]
    assert set(body["total"]) == FIGURES
    assert set(body["total"]["first_response"]) == {
        "p50_seconds",
        "p90_seconds",
        "met",
        "breached",
        "compliance",
    }
    assert set(body["total"]["satisfaction"]) == {
        "responses",
        "mean",
        "share_satisfied",
        "response_rate",
    }
    for group in body["groups"]:
        assert set(group) == FIGURES | {"key"}
        assert set(group["key"]) == {"channel", "unit"}
    assert sum(g["received"] for g in body["groups"]) == body["total"]["received"]


def test_summary_as_csv_holds_the_same_figures_as_json(supervisor: Caller) -> None:
    query = f"{SUMMARY}?{PERIOD}&group_by=channel,priority"
    as_json = supervisor.get(query).get_json()
    response = supervisor.client.get(query, headers=supervisor.headers(Accept="text/csv"))
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    lines = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert list(lines[0]) == [
        "row",
        "channel",
        "priority",
        *csv_columns(),
        *active_care_columns(),
    ]
    assert len(lines) == 1 + len(as_json["groups"])
    assert lines[0]["row"] == "total"
    assert _figures(lines[0]) == _flat(as_json["total"])
    for line, group in zip(lines[1:], as_json["groups"], strict=True):
        assert line["row"] == "group"
        assert (line["channel"], line["priority"]) == (
            group["key"]["channel"] or "",
            group["key"]["priority"] or "",
        )
        assert _figures(line) == _flat(group)


def test_sessions_scheduled_in_the_period_are_counted_in_active_care(
    supervisor: Caller, caller: Callable[[str], Caller], projected: Container
) -> None:
    agent = caller("agent")

    def session(unit: str, kind: str, line: str | None, at: str, attendance: int | None) -> str:
        plan = {"kind": kind, "topic": "Đối thoại BHXH", "unit": unit, "line": line}
        made = supervisor.post("/api/v1/sessions", {**plan, "scheduled_for": at})
        assert made.status_code == 201, made.get_json()
        session_id: str = made.get_json()["id"]
        if attendance is not None:
            held = {"attendance": attendance, "held_at": at}
            assert supervisor.post(f"/api/v1/sessions/{session_id}/held", held).status_code == 200
        return session_id

    asked = session("hanoi", "conference", "social", "2024-02-01T08:00:00+07:00", 40)
    session("hue", "qa", None, "2024-02-01T14:00:00+07:00", 25)
    session("hue", "qa", "health", "2024-02-01T16:00:00+07:00", None)  # not held (yet)
    session("hanoi", "qa", "social", "2024-02-02T00:00:00+07:00", 99)  # the next day
    for number in range(2):
        question = {
            "subject": f"Câu hỏi {number}",
            "requester": {"kind": "citizen", "id": f"03812000{number}", "name": "Lê Thị Hoa"},
        }
        raised = agent.post(f"/api/v1/sessions/{asked}/questions", question)
        assert raised.status_code == 201, raised.get_json()
    caught_up(projected)

    body = supervisor.get(f"{SUMMARY}?{SESSIONS_DAY}&group_by=unit").get_json()

    assert body["active_care"] == {
        "scheduled": 3,
        "held": 2,
        "attendance": 65,
        "questions_raised": 2,
        "by_kind": [
            {
                "kind": "conference",
                "scheduled": 1,
                "held": 1,
                "attendance": 40,
                "questions_raised": 2,
            },
            {"kind": "qa", "scheduled": 2, "held": 1, "attendance": 25, "questions_raised": 0},
        ],
        "by_unit": [
            {"unit": "hanoi", "scheduled": 1, "held": 1, "attendance": 40, "questions_raised": 2},
            {"unit": "hue", "scheduled": 2, "held": 1, "attendance": 25, "questions_raised": 0},
        ],
        "by_line": [
            {"line": "health", "scheduled": 1, "held": 0, "attendance": 0, "questions_raised": 0},
            {"line": "social", "scheduled": 1, "held": 1, "attendance": 40, "questions_raised": 2},
            {"line": None, "scheduled": 1, "held": 1, "attendance": 25, "questions_raised": 0},
        ],
    }
    # The questions' cases are received when the session was held: in the period, in person.
    assert body["total"]["received"] == 2
    assert [group["key"] for group in body["groups"]] == [{"unit": "hanoi"}]
    for role in ("auditor", "admin"):
        assert (
            caller(role).get(f"{SUMMARY}?{SESSIONS_DAY}").get_json()["active_care"]
            == (body["active_care"])
        )
    assert caller("agent").get(f"{SUMMARY}?{SESSIONS_DAY}").status_code == 403

    as_csv = supervisor.client.get(
        f"{SUMMARY}?{SESSIONS_DAY}&group_by=unit", headers=supervisor.headers(Accept="text/csv")
    )
    total, group = csv.DictReader(io.StringIO(as_csv.get_data(as_text=True)))
    assert [total[column] for column in active_care_columns()] == ["3", "2", "65", "2"]
    assert [group[column] for column in active_care_columns()] == ["", "", "", ""]


def _figures(line: dict[str, str]) -> list[float | None]:
    return [None if line[c] == "" else float(line[c]) for c in csv_columns()]


def _flat(figures: dict[str, Any]) -> list[float | None]:
    values: list[Any] = [figures["received"], figures["resolved"], figures["open"]]
    for clock in ("first_response", "resolution"):
        clock_figures = figures[clock]
        values += [clock_figures[k] for k in ("p50_seconds", "p90_seconds", "met", "breached")]
        values.append(clock_figures["compliance"])
    values += [figures[f"{k}_rate"] for k in ("reopen", "transfer", "escalation", "merge")]
    satisfaction = figures["satisfaction"]
    values += [satisfaction[k] for k in ("responses", "mean", "share_satisfied", "response_rate")]
    return [None if v is None else float(v) for v in values]


@pytest.mark.parametrize(
    ("role", "status"),
    [("supervisor", 200), ("auditor", 200), ("admin", 200), ("agent", 403), ("intake", 403)],
)
def test_reports_are_read_by_supervisors_auditors_and_admins_only(
    caller: Callable[[str], Caller], role: str, status: int
) -> None:
    assert caller(role).get(f"{SUMMARY}?{PERIOD}").status_code == status


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("group_by=colour", "group_by"),
        ("", "from"),
        ("from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z", "to"),
        ("tz=Mars/Olympus", "tz"),
        ("from=yesterday", "from"),
    ],
)
def test_a_bad_report_query_is_a_422_naming_the_field(
    supervisor: Caller, query: str, field: str
) -> None:
    given = f"{PERIOD}&{query}" if query and "from=" not in query else query
    response = supervisor.get(f"{SUMMARY}?{given}")
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    assert field in str(response.get_json()["errors"])
