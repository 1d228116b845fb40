"""Analysis reports as `casemgmt.queries.analysis.analysis` gives them, for the tests of the page
that renders them: one quarter of a provincial centre (its active care too), and a period in
which nothing came in and no session was scheduled."""

from __future__ import annotations

from typing import Any

HOSTILE_TERM = '<script>alert("x")</script>'
VIETNAMESE_TERM = "sổ bảo hiểm xã hội"


def _spent(total_hours: float, cases: int) -> dict[str, float]:
    total = total_hours * 3600
    return {"total_seconds": total, "mean_seconds": total / cases}


def quarter_report() -> dict[str, Any]:
    """A quarter with something in every section; the figures are distinct, to be found again."""
    return {
        "from": "2026-09-01T00:00:00+07:00",
        "to": "2026-12-01T00:00:00+07:00",
        "cases": 1234,
        "time_in_state": [
            {
                "category": "benefit_status",
                "unit": "hanoi",
                "cases": 40,
                "states": {
                    "received": _spent(20, 40),
                    "triaged": _spent(60, 40),
                    "in_progress": _spent(200, 40),
                    "awaiting_citizen": _spent(80, 40),
                },
            },
            {
                "category": "benefit_status",
                "unit": "haiphong",
                "cases": 10,
                "states": {"received": _spent(5, 10), "in_progress": _spent(30, 10)},
            },
            {
                "category": "complaint",
                "unit": "hcmc",
                "cases": 25,
                "states": {"triaged": _spent(25, 25), "in_progress": _spent(300, 25)},
            },
            {"category": None, "unit": None, "cases": 3, "states": {"received": _spent(9, 3)}},
        ],
        "transfer_loops": {
            "cases": 3,
            "rate": 3 / 1234,
            "loops": [
                {"units": ["hanoi", "haiphong", "hanoi"], "cases": 2},
                {"units": ["hcmc", "cantho", "hcmc"], "cases": 1},
            ],
        },
        "reopen": {
            "cases": 12,
            "rate": 12 / 1234,
            "by_category": [
                {"category": "benefit_status", "cases": 5, "rate": 0.02},
                {"category": "complaint", "cases": 7, "rate": 0.035},
            ],
        },
        "repeat_contacts": {
            "cases": 30,
            "rate": 30 / 1234,
            "by_category": [{"category": "benefit_status", "cases": 10, "rate": 0.05}],
        },
        "subject_terms": [
            {
                "category": "benefit_status",
                "terms": [
                    {"term": "luong huu", "count": 12},
                    {"term": VIETNAMESE_TERM, "count": 9},
                ],
            },
            {"category": "complaint", "terms": [{"term": HOSTILE_TERM, "count": 4}]},
        ],
        "breaches": {
            "by_unit": [
                {"unit": "hanoi", "cases": 100, "breached": 12, "rate": 0.12},
                {"unit": "hcmc", "cases": 80, "breached": 7, "rate": 0.0875},
            ],
            "by_category": [
                {"category": "benefit_status", "cases": 110, "breached": 13, "rate": 13 / 110},
                {"category": "complaint", "cases": 70, "breached": 6, "rate": 6 / 70},
            ],
        },
        "satisfaction_by_resolution_time": [
            _band("under 4 working hours", 14400, 10, 4.4, 0.9),
            _band("4 working hours to 1 working day", 28800, 8, 4.1, 0.75),
            _band("1 to 3 working days", 86400, 6, 3.5, 0.5),
            _band("3 to 5 working days", 144000, 0, None, None),
            _band("over 5 working days", None, 4, 2.25, 0.25),
        ],
        "active_care": {
            **_sessions(9, 7, 1530, 41),
            "by_kind": [
                {"kind": "conference", **_sessions(5, 4, 1200, 30)},
                {"kind": "qa", **_sessions(4, 3, 330, 11)},
            ],
            "by_unit": [
                {"unit": "hanoi", **_sessions(4, 3, 900, 25)},
                {"unit": "hcmc", **_sessions(3, 2, 480, 12)},
                {"unit": "thanhhoa", **_sessions(2, 2, 150, 4)},
            ],
            "by_line": [
                {"line": "health", **_sessions(2, 2, 300, 6)},
                {"line": "social", **_sessions(5, 4, 1100, 33)},
                {"line": None, **_sessions(2, 1, 130, 2)},
            ],
        },
    }


def empty_report() -> dict[str, Any]:
    """A period in which no case was received: every list empty, every rate unknown."""
    return {
        "from": "2026-09-01T00:00:00+00:00",
        "to": "2026-09-02T00:00:00+00:00",
        "cases": 0,
        "time_in_state": [],
        "transfer_loops": {"cases": 0, "rate": None, "loops": []},
        "reopen": {"cases": 0, "rate": None, "by_category": []},
        "repeat_contacts": {"cases": 0, "rate": None, "by_category": []},
        "subject_terms": [],
        "breaches": {"by_unit": [], "by_category": []},
        "satisfaction_by_resolution_time": [
            _band(band, limit, 0, None, None)
            for band, limit in (
                ("under 4 working hours", 14400),
                ("4 working hours to 1 working day", 28800),
                ("1 to 3 working days", 86400),
                ("3 to 5 working days", 144000),
                ("over 5 working days", None),
            )
        ],
        "active_care": {**_sessions(0, 0, 0, 0), "by_kind": [], "by_unit": [], "by_line": []},
    }


def _sessions(scheduled: int, held: int, attendance: int, questions: int) -> dict[str, int]:
    return {
        "scheduled": scheduled,
        "held": held,
        "attendance": attendance,
        "questions_raised": questions,
    }


def _band(
    band: str, max_seconds: int | None, responses: int, mean: float | None, share: float | None
) -> dict[str, Any]:
    return {
        "band": band,
        "max_seconds": max_seconds,
        "responses": responses,
        "mean": mean,
        "share_satisfied": share,
    }
