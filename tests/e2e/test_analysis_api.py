"""`GET /api/v1/reports/analysis` through the HTTP API: its shape, who may read it, and refusals."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from tests.e2e.conftest import caught_up, open_case

if TYPE_CHECKING:
    from collections.abc import Callable

    from casemgmt.bootstrap import Container
    from tests.e2e.conftest import Caller

ANALYSIS = "/api/v1/reports/analysis"
PERIOD = "from=2000-01-01T00:00:00Z&to=2100-01-01T00:00:00Z"
PARTS = {
    "from",
    "to",
    "tz",
    "cases",
    "time_in_state",
    "transfer_loops",
    "reopen",
    "repeat_contacts",
    "subject_terms",
    "breaches",
    "satisfaction_by_resolution_time",
    "active_care",
}


@pytest.fixture
def supervisor(caller: Callable[[str], Caller]) -> Caller:
    return caller("supervisor")


def test_the_analysis_has_the_shape_the_page_renders(
    supervisor: Caller, caller: Callable[[str], Caller], projected: Container
) -> None:
    opened = open_case(
        caller("intake"),
        subject="Góp ý về việc chi trả lương hưu qua bưu điện",
        category={"line": "social", "kind": "suggestion"},
    )
    moved = supervisor.act(opened["id"], "transfer", {"unit": "hue", "reason": "địa bàn"})
    assert moved.status_code == 200, moved.get_json()
    caught_up(projected)

    response = supervisor.get(f"{ANALYSIS}?{PERIOD}&tz=Asia/Ho_Chi_Minh")

    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert set(body) == PARTS
    assert (body["from"], body["to"], body["tz"]) == (
        "2000-01-01T00:00:00+00:00",
        "2100-01-01T00:00:00+00:00",
        "Asia/Ho_Chi_Minh",
    )
    assert body["cases"] >= 1
    assert set(body["transfer_loops"]) == {"cases", "rate", "loops"}
    for part in ("reopen", "repeat_contacts"):
        assert set(body[part]) == {"cases", "rate", "by_category"}
    assert set(body["breaches"]) == {"by_unit", "by_category"}
    hue = [unit for unit in body["breaches"]["by_unit"] if unit["unit"] == "hue"]
    assert hue and hue[0]["cases"] >= 1  # the unit the case was transferred to held it
    for pair in body["time_in_state"]:
        assert set(pair) == {"category", "unit", "cases", "states"}
        for spent in pair["states"].values():
            assert set(spent) == {"cases", "total_seconds", "mean_seconds"}
    suggestions = [c for c in body["subject_terms"] if c["category"] == "suggestion"]
    assert {"luong huu", "buu dien", "chi tra"} <= {t["term"] for t in suggestions[0]["terms"]}
    bands = body["satisfaction_by_resolution_time"]
    assert bands[0]["band"] == "under 4 working hours"
    assert bands[-1]["max_seconds"] is None
    assert set(bands[0]) == {"band", "max_seconds", "responses", "mean", "share_satisfied"}
    sessions = body["active_care"]
    assert set(sessions) == {
        *("scheduled", "held", "attendance", "questions_raised"),
        *("by_kind", "by_unit", "by_line"),
    }
    assert sessions["scheduled"] == sum(unit["scheduled"] for unit in sessions["by_unit"])


def test_a_period_with_no_case_answers_zeros_and_nulls(supervisor: Caller) -> None:
    response = supervisor.get(f"{ANALYSIS}?from=1990-01-01T00:00:00Z&to=1990-01-02T00:00:00Z")

    body = response.get_json()
    assert response.status_code == 200, body
    assert body["cases"] == 0
    assert body["transfer_loops"] == {"cases": 0, "rate": None, "loops": []}
    assert body["reopen"] == {"cases": 0, "rate": None, "by_category": []}
    assert body["time_in_state"] == body["subject_terms"] == []
    assert [band["responses"] for band in body["satisfaction_by_resolution_time"]] == [0] * 5
    assert body["active_care"] == {
        "scheduled": 0,
        "held": 0,
        "attendance": 0,
        "questions_raised": 0,
        "by_kind": [],
        "by_unit": [],
        "by_line": [],
    }


@pytest.mark.parametrize(
    ("role", "status"),
    [("supervisor", 200), ("auditor", 200), ("admin", 200), ("agent", 403), ("intake", 403)],
)
def test_the_analysis_is_read_by_supervisors_auditors_and_admins_only(
    caller: Callable[[str], Caller], role: str, status: int
) -> None:
    response = caller(role).get(f"{ANALYSIS}?{PERIOD}")
    assert response.status_code == status, response.get_json()
    if status == 403:
        assert response.mimetype == "application/problem+json"


@pytest.mark.parametrize(
    ("query", "field", "says"),
    [
        ("", "from", "Missing data"),
        ("to=2026-01-01T00:00:00Z", "from", "Missing data"),
        ("from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z", "to", "must be later than from"),
        ("from=2026-01-01T00:00:00Z&to=2026-01-01T00:00:00Z", "to", "must be later than from"),
        ("from=yesterday&to=2026-01-01T00:00:00Z", "from", "ISO-8601"),
        ("from=2026-01-01T00:00:00&to=2026-02-01T00:00:00Z", "from", "offset"),
        (f"{PERIOD}&tz=Mars/Olympus", "tz", "not an IANA time zone"),
        (f"{PERIOD}&group_by=unit", "group_by", "Unknown field"),
    ],
)
def test_a_bad_period_is_a_422_saying_what_is_wrong_with_which_field(
    supervisor: Caller, query: str, field: str, says: str
) -> None:
    response = supervisor.get(f"{ANALYSIS}?{query}")

    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    errors = response.get_json()["errors"]
    assert field in str(errors)
    assert says in str(errors)
