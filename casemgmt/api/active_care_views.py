"""The `active_care` block of `GET /api/v1/reports/summary` and `GET /api/v1/reports/analysis`, as
the OpenAPI document describes it: `casemgmt.queries.active_care.active_care` makes it, these
schemas only dump it."""

from __future__ import annotations

from marshmallow import Schema, fields


class ActiveCareFiguresView(Schema):
    scheduled = fields.Integer(metadata={"description": "Sessions scheduled in the period"})
    held = fields.Integer(metadata={"description": "Of them, recorded as held"})
    attendance = fields.Integer(metadata={"description": "People who attended the held ones"})
    questions_raised = fields.Integer(
        metadata={"description": "Questions raised there, each opened as an in-person case"}
    )


class KindFiguresView(ActiveCareFiguresView):
    kind = fields.String(metadata={"description": "conference or qa"})


class UnitFiguresView(ActiveCareFiguresView):
    unit = fields.String()


class LineFiguresView(ActiveCareFiguresView):
    line = fields.String(allow_none=True, metadata={"description": "null: no line given"})


class ActiveCareView(ActiveCareFiguresView):
    """Conferences and Q&A sessions scheduled in `[from, to)`, as the events say now."""

    by_kind = fields.List(fields.Nested(KindFiguresView))
    by_unit = fields.List(fields.Nested(UnitFiguresView))
    by_line = fields.List(fields.Nested(LineFiguresView))
