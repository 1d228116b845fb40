"""The summary report, computed in SQL from the reports' read table (`report_cases`).

A report is about the cases **received** in `[from, to)`: its figures are that cohort's, as the
events say now, except `resolved` and `open`, which say how the cohort stood at `to` (resolved or
closed by then; neither ended nor merged by then). Percentiles are PostgreSQL's `percentile_cont`
(linear interpolation) over the clocks that stopped; a figure with nothing to count is null.
Totals and groups come from one query (`GROUPING SETS`), so they always agree.

Its `active_care` block is about the conferences and Q&A sessions **scheduled** in `[from, to)`
(`casemgmt.queries.active_care`): sessions are not cases, so `group_by` does not split them; the
block carries its own breakdowns by kind, unit and insurance line.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Final

from casemgmt.domain import Status
from casemgmt.domain.sla import ClockName
from casemgmt.queries.active_care import active_care
from casemgmt.readmodels.report_case import TABLE, Outcome

if TYPE_CHECKING:
    from collections.abc import Sequence
    from datetime import datetime

    from casemgmt.persistence.datastore import Datastore


class GroupBy(StrEnum):
    """What a summary may be grouped by; the value is the key's name in each group."""

    CHANNEL = "channel"
    CATEGORY = "category"  # the inquiry kind
    LINE = "line"  # the insurance line
    UNIT = "unit"
    PRIORITY = "priority"
    AGENT = "agent"  # the last agent assigned
    DAY = "day"  # of receipt, in the report's time zone: "2026-11-24"
    WEEK = "week"  # the Monday of the ISO week of receipt: "2026-11-23"
    MONTH = "month"  # "2026-11"


@dataclass(frozen=True)
class _Key:
    """How the rows are grouped by a key (an expression on a row), and how a group's key reads
    (`{}` is the grouped value)."""

    grouped: str
    shown: str = "{}"


_LOCAL: Final = "(received_at AT TIME ZONE %(tz)s)"
# Moments of receipt are grouped as the timestamp their day, week or month starts at (which sorts
# as its text does) and written as text once per group: formatting every row took about a tenth
# of the server's time for a year of a million cases (bench/reports.py).
_KEYS: Final[dict[GroupBy, _Key]] = {
    GroupBy.CHANNEL: _Key("channel"),
    GroupBy.CATEGORY: _Key("category_kind"),
    GroupBy.LINE: _Key("category_line"),
    GroupBy.UNIT: _Key("unit"),
    GroupBy.PRIORITY: _Key("priority"),
    GroupBy.AGENT: _Key("agent"),
    GroupBy.DAY: _Key(f"date_trunc('day', {_LOCAL})", "to_char({}, 'YYYY-MM-DD')"),
    GroupBy.WEEK: _Key(f"date_trunc('week', {_LOCAL})", "to_char({}, 'YYYY-MM-DD')"),
    GroupBy.MONTH: _Key(f"date_trunc('month', {_LOCAL})", "to_char({}, 'YYYY-MM')"),
}
_RESOLVED: Final = f"status IN ('{Status.RESOLVED.value}', '{Status.CLOSED.value}')"


def _clock_figures(clock: str) -> list[str]:
    return [
        f"percentile_cont(0.5) WITHIN GROUP (ORDER BY {clock}_seconds)",
        f"percentile_cont(0.9) WITHIN GROUP (ORDER BY {clock}_seconds)",
        f"count(*) FILTER (WHERE {clock}_outcome = '{Outcome.MET.value}')",
        f"count(*) FILTER (WHERE {clock}_outcome = '{Outcome.BREACHED.value}')",
    ]


# The aggregates of one group, in the order `_figures` reads them.
_FIGURES: Final = [
    "count(*)",
    f"count(*) FILTER (WHERE {_RESOLVED} AND ended_at < %(to)s)",
    "count(*) FILTER (WHERE ended_at IS NULL OR ended_at >= %(to)s)",
    *(figure for clock in ClockName for figure in _clock_figures(clock.value)),
    "count(*) FILTER (WHERE reopened)",
    "count(*) FILTER (WHERE transferred)",
    "count(*) FILTER (WHERE escalated)",
    "count(*) FILTER (WHERE merged)",
    "count(*) FILTER (WHERE survey_requested)",
    "count(feedback_score) FILTER (WHERE survey_requested)",
    "count(feedback_score)",
    "avg(feedback_score)::float8",
    "count(*) FILTER (WHERE feedback_score >= 4)",
]


@dataclass(frozen=True)
class Period:
    """The cases a report is about: received in `[start, end)`; days and weeks in `timezone`."""

    start: datetime
    end: datetime
    timezone: str = "UTC"


def summary(datastore: Datastore, period: Period, group_by: Sequence[GroupBy]) -> dict[str, Any]:
    """The summary report: `{"from", "to", "group_by", "total", "groups", "active_care"}` (see
    the module)."""
    keys = list(dict.fromkeys(group_by))  # each once, in the order asked
    names = [f"k{n}" for n in range(len(keys))]
    chosen = ", ".join(
        [*(f"{_KEYS[key].grouped} AS {name}" for key, name in zip(keys, names, strict=True)), "*"]
    )
    shown = [_KEYS[key].shown.format(name) for key, name in zip(keys, names, strict=True)]
    grouping = f"GROUPING SETS (({', '.join(names)}), ())" if keys else "()"
    total_flag = f"GROUPING({', '.join(names)}) <> 0" if keys else "true"
    query = (
        f"WITH chosen AS (SELECT {chosen} FROM {TABLE}"
        " WHERE received_at >= %(from)s AND received_at < %(to)s)"
        f" SELECT {total_flag}, {', '.join([*shown, *_FIGURES])} FROM chosen"
        f" GROUP BY {grouping} ORDER BY 1 DESC{''.join(f', {n} NULLS FIRST' for n in names)}"
    )
    params = {"from": period.start, "to": period.end, "tz": period.timezone}
    total: dict[str, Any] | None = None
    groups = []
    for row in datastore.execute(query, params):
        figures = _figures(row[1 + len(keys) :])
        if row[0]:
            total = figures
        else:
            key = {
                key.value: value for key, value in zip(keys, row[1 : 1 + len(keys)], strict=True)
            }
            groups.append({"key": key, **figures})
    assert total is not None  # the empty grouping set always gives a row
    return {
        "from": period.start,
        "to": period.end,
        "group_by": [key.value for key in keys],
        "total": total,
        "groups": groups,
        "active_care": active_care(datastore.execute, period),
    }


def _figures(values: Sequence[Any]) -> dict[str, Any]:
    received, resolved, open_, *rest = values
    clocks = {}
    for clock in ClockName:
        p50, p90, met, breached, *rest = rest
        clocks[clock.value] = {
            "p50_seconds": p50,
            "p90_seconds": p90,
            "met": met,
            "breached": breached,
            "compliance": _share(met, met + breached),
        }
    reopened, transferred, escalated, merged, surveys, answered, responses, mean, satisfied = rest
    return {
        "received": received,
        "resolved": resolved,
        "open": open_,
        **clocks,
        "reopen_rate": _share(reopened, received),
        "transfer_rate": _share(transferred, received),
        "escalation_rate": _share(escalated, received),
        "merge_rate": _share(merged, received),
        "satisfaction": {
            "responses": responses,
            "mean": mean,
            "share_satisfied": _share(satisfied, responses),
            "response_rate": _share(answered, surveys),
        },
    }


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None
