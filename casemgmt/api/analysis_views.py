"""The answer of `GET /api/v1/reports/analysis`, as the OpenAPI document describes it and as it is
written: `casemgmt.queries.analysis.analysis` makes it, these schemas only dump it."""

from __future__ import annotations

from marshmallow import Schema, fields

from casemgmt.api.active_care_views import ActiveCareView


def _rate(description: str) -> fields.Float:
    return fields.Float(allow_none=True, metadata={"description": f"{description}; 0 to 1"})


class StateTimeView(Schema):
    cases = fields.Integer(metadata={"description": "Cases that spent a stretch in the status"})
    total_seconds = fields.Float(metadata={"description": "Working seconds, summed"})
    mean_seconds = fields.Float(metadata={"description": "total_seconds / cases"})


class TimeInStateView(Schema):
    category = fields.String(allow_none=True, metadata={"description": "The inquiry kind"})
    unit = fields.String(allow_none=True, metadata={"description": "The unit that held them"})
    cases = fields.Integer()
    states = fields.Dict(
        keys=fields.String(),
        values=fields.Nested(StateTimeView),
        metadata={"description": "By status: received, triaged, in_progress, awaiting_citizen"},
    )


class LoopView(Schema):
    units = fields.List(fields.String(), metadata={"description": '["hanoi", "hue", "hanoi"]'})
    cases = fields.Integer()


class TransferLoopsView(Schema):
    cases = fields.Integer(metadata={"description": "Cases that came back to a unit they left"})
    rate = _rate("Of the cases received")
    loops = fields.List(fields.Nested(LoopView), metadata={"description": "Most frequent first"})


class CategoryCountView(Schema):
    category = fields.String(allow_none=True)
    cases = fields.Integer()
    rate = _rate("Of the category's cases")


class CountedView(Schema):
    cases = fields.Integer()
    rate = _rate("Of the cases received")
    by_category = fields.List(fields.Nested(CategoryCountView))


class TermView(Schema):
    term = fields.String(metadata={"description": "Folded: lower case, no diacritics"})
    count = fields.Integer(metadata={"description": "Cases whose subject has it"})


class CategoryTermsView(Schema):
    category = fields.String(allow_none=True)
    terms = fields.List(fields.Nested(TermView), metadata={"description": "At most 10"})


class UnitBreachesView(Schema):
    unit = fields.String(allow_none=True)
    cases = fields.Integer(metadata={"description": "Cases the unit held"})
    breached = fields.Integer(metadata={"description": "Of them, breached while it held them"})
    rate = _rate("breached / cases")


class CategoryBreachesView(Schema):
    category = fields.String(allow_none=True)
    cases = fields.Integer()
    breached = fields.Integer()
    rate = _rate("breached / cases")


class BreachesView(Schema):
    by_unit = fields.List(fields.Nested(UnitBreachesView))
    by_category = fields.List(fields.Nested(CategoryBreachesView))


class SatisfactionBandView(Schema):
    band = fields.String(metadata={"description": '"under 4 working hours", …'})
    max_seconds = fields.Float(
        allow_none=True, metadata={"description": "Working seconds open, excluded; null: no end"}
    )
    responses = fields.Integer()
    mean = fields.Float(allow_none=True, metadata={"description": "Mean score, 1 to 5"})
    share_satisfied = _rate("Rated 4 or 5")


class AnalysisView(Schema):
    start = fields.String(attribute="from", data_key="from", metadata={"format": "date-time"})
    end = fields.String(attribute="to", data_key="to", metadata={"format": "date-time"})
    tz = fields.String()
    cases = fields.Integer(metadata={"description": "Cases received in the period"})
    time_in_state = fields.List(fields.Nested(TimeInStateView))
    transfer_loops = fields.Nested(TransferLoopsView)
    reopen = fields.Nested(CountedView)
    repeat_contacts = fields.Nested(CountedView)
    subject_terms = fields.List(fields.Nested(CategoryTermsView))
    breaches = fields.Nested(BreachesView)
    satisfaction_by_resolution_time = fields.List(fields.Nested(SatisfactionBandView))
    active_care = fields.Nested(ActiveCareView)
