"""`/api/v1/reports`: what the care centre received and how it served it, for supervisors,
auditors and admins. Served from the reports' read tables (a projection), never by reading events.

`GET /summary` answers JSON, or CSV when the request's `Accept` prefers `text/csv`: one line for
the total and one per group, the figures flattened (`first_response_p50_seconds`, …), then the
active-care totals (`active_care_scheduled`, …) on the total line only: sessions are not cases,
so no group of cases has figures of its own there (their breakdowns are in the JSON).
`GET /analysis` answers the improvement analysis (`casemgmt.queries.analysis`) as JSON; its
answer's schemas are in `casemgmt.api.analysis_views`.
"""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Any, Final
from zoneinfo import ZoneInfo

from flask import Response, request
from flask.views import MethodView
from marshmallow import RAISE, Schema, ValidationError, fields, validates_schema

from casemgmt.api.active_care_views import ActiveCareView
from casemgmt.api.analysis_views import AnalysisView
from casemgmt.api.auth import requires
from casemgmt.api.context import current_container
from casemgmt.api.openapi import Blueprint
from casemgmt.api.schemas import QueryMoment, Several, Text, enum_field
from casemgmt.domain.sla import ClockName
from casemgmt.queries.analysis import analysis
from casemgmt.queries.reports import GroupBy, Period, summary

blp = Blueprint("reports", __name__, url_prefix="/api/v1/reports", description="Reports")

CSV: Final = "text/csv"
# The active-care figures the CSV carries on its total line, in this order.
ACTIVE_CARE_FIGURES: Final = ("scheduled", "held", "attendance", "questions_raised")


class PeriodQuerySchema(Schema):
    """Which cases: received from `from`, included, to `to`, excluded; `tz` is the time zone a
    report counts days in (default UTC)."""

    start = QueryMoment(
        data_key="from",
        required=True,
        metadata={"description": "Cases received from this moment on (ISO-8601, with offset)"},
    )
    end = QueryMoment(
        data_key="to",
        required=True,
        metadata={"description": "Cases received before this moment (ISO-8601, with offset)"},
    )
    tz = Text(load_default="UTC", metadata={"description": "An IANA time zone: Asia/Ho_Chi_Minh"})

    @validates_schema
    def check_period(self, data: dict[str, Any], **_: Any) -> None:
        if data["end"] <= data["start"]:
            raise ValidationError("must be later than from", "to")
        try:
            ZoneInfo(data["tz"])
        except (LookupError, ValueError):
            raise ValidationError(f"{data['tz']!r} is not an IANA time zone", "tz") from None


class SummaryQuerySchema(PeriodQuerySchema):
    """Which cases (received from `from`, included, to `to`, excluded) and how to group them.

    `group_by` takes several keys, repeated or separated by commas (`?group_by=channel,unit`);
    `tz` is the time zone of the days, weeks and months (default UTC).
    """

    group_by = Several(enum_field(GroupBy), load_default=list)


class ClockFiguresView(Schema):
    p50_seconds = fields.Float(allow_none=True, metadata={"description": "Median, working time"})
    p90_seconds = fields.Float(allow_none=True)
    met = fields.Integer()
    breached = fields.Integer()
    compliance = fields.Float(allow_none=True, metadata={"description": "met / (met + breached)"})


class SatisfactionView(Schema):
    responses = fields.Integer(metadata={"description": "Cases rated"})
    mean = fields.Float(allow_none=True, metadata={"description": "Mean score, 1 to 5"})
    share_satisfied = fields.Float(allow_none=True, metadata={"description": "Rated 4 or 5"})
    response_rate = fields.Float(
        allow_none=True, metadata={"description": "Surveyed cases rated / cases surveyed"}
    )


class FiguresView(Schema):
    received = fields.Integer()
    resolved = fields.Integer(metadata={"description": "Resolved or closed by `to`"})
    open = fields.Integer(metadata={"description": "Neither ended nor merged by `to`"})
    first_response = fields.Nested(ClockFiguresView)
    resolution = fields.Nested(ClockFiguresView)
    reopen_rate = fields.Float(allow_none=True)
    transfer_rate = fields.Float(allow_none=True)
    escalation_rate = fields.Float(allow_none=True)
    merge_rate = fields.Float(allow_none=True)
    satisfaction = fields.Nested(SatisfactionView)


class GroupView(FiguresView):
    key = fields.Dict(
        keys=fields.String(),
        values=fields.String(allow_none=True),
        metadata={"description": 'The group\'s keys: {"channel": "email", "unit": "hanoi"}'},
    )


class SummaryView(Schema):
    start = fields.AwareDateTime(data_key="from")
    end = fields.AwareDateTime(data_key="to")
    group_by = fields.List(fields.String())
    total = fields.Nested(FiguresView)
    groups = fields.List(fields.Nested(GroupView))
    active_care = fields.Nested(ActiveCareView)


@blp.route("/summary")
class Summary(MethodView):
    @requires("read-reports")
    @blp.problems(422)
    @blp.arguments(SummaryQuerySchema, location="query", as_kwargs=True, unknown=RAISE)
    @blp.response(200, SummaryView)
    def get(self, **query: Any) -> dict[str, Any] | Response:
        """Summarise the cases received in a period: volumes, times, SLA compliance, satisfaction.

        Figures are about the cases received in `[from, to)`, as they stand now, except
        `resolved` and `open`, which say how they stood at `to`. Times are working seconds of
        the SLA clocks that stopped (p50, p90); compliance is met / (met + breached); rates are
        shares of the cases received; satisfaction counts the latest rating of each case.
        `active_care` counts the conferences and Q&A sessions scheduled in `[from, to)`: held,
        attendance and questions raised, by kind, unit and insurance line (not by `group_by`).
        With `Accept: text/csv`, the same figures as CSV: a `total` line, then a line per group;
        the active-care totals are the last columns of the total line.
        """
        period = Period(query["start"], query["end"], query["tz"])
        report = summary(current_container().datastore, period, query["group_by"])
        if _wants_csv():
            return Response(as_csv(report), mimetype=CSV)
        return {**report, "start": report["from"], "end": report["to"]}


@blp.route("/analysis")
class Analysis(MethodView):
    @requires("read-reports")
    @blp.problems(422)
    @blp.arguments(PeriodQuerySchema, location="query", as_kwargs=True, unknown=RAISE)
    @blp.response(200, AnalysisView)
    def get(self, **query: Any) -> dict[str, Any]:
        """Analyse the cases received in a period for process and policy improvements.

        About the cases received in `[from, to)`, as they stand now: working time spent in each
        open status by category and unit (the unit's calendar), transfer loops (A → B → A),
        reopens, repeat contacts (the same requester and category within 30 days: failure
        demand), the subject terms most cases of a category share, breaches by unit and
        category, and satisfaction by working time to resolution; and active care: the
        conferences and Q&A sessions scheduled in the period, held, their attendance and the
        questions raised there, by kind, unit and insurance line. Rates are 0 to 1, null when
        there is nothing to count; times are working seconds.
        """
        container = current_container()
        period = Period(query["start"], query["end"], query["tz"])
        return analysis(container.datastore, period, container.sla_policy)


def _wants_csv() -> bool:
    best = request.accept_mimetypes.best_match(["application/json", CSV])
    return best == CSV


def csv_columns() -> list[str]:
    """The figures' columns of the CSV, after `row` and the group keys."""
    clocks = [
        f"{clock.value}_{figure}"
        for clock in ClockName
        for figure in ("p50_seconds", "p90_seconds", "met", "breached", "compliance")
    ]
    rates = ["reopen_rate", "transfer_rate", "escalation_rate", "merge_rate"]
    satisfaction = [
        f"satisfaction_{name}" for name in ("responses", "mean", "share_satisfied", "response_rate")
    ]
    return ["received", "resolved", "open", *clocks, *rates, *satisfaction]


def active_care_columns() -> list[str]:
    """The active-care columns of the CSV, after the figures; filled on the total line only."""
    return [f"active_care_{figure}" for figure in ACTIVE_CARE_FIGURES]


def as_csv(report: dict[str, Any]) -> str:
    """The report as CSV: a `total` line, then a `group` line per group; empty cells for null."""
    keys = list(report["group_by"])
    sessions = [_cell(report["active_care"][figure]) for figure in ACTIVE_CARE_FIGURES]
    no_sessions = [""] * len(sessions)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["row", *keys, *csv_columns(), *active_care_columns()])
    writer.writerow(["total", *([""] * len(keys)), *_flat(report["total"]), *sessions])
    for group in report["groups"]:
        key = [_cell(group["key"][k]) for k in keys]
        writer.writerow(["group", *key, *_flat(group), *no_sessions])
    return out.getvalue()


def _flat(figures: dict[str, Any]) -> list[str]:
    values: list[Any] = [figures["received"], figures["resolved"], figures["open"]]
    for clock in ClockName:
        values += list(figures[clock.value].values())
    values += [figures[name] for name in ("reopen_rate", "transfer_rate", "escalation_rate")]
    values += [figures["merge_rate"], *figures["satisfaction"].values()]
    return [_cell(value) for value in values]


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    return repr(value) if isinstance(value, float) else str(value)
