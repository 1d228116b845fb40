"""`/api/v1/sessions`: active care, the dialogue conferences and policy Q&A sessions a unit holds.

Supervisors schedule sessions and record them as held with their attendance; the agents who staff
them record each question raised there, which opens an in-person case linked to the session.
Sessions are listed and read by workers and auditors.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flask.views import MethodView
from marshmallow import RAISE, Schema, fields, validate

from casemgmt.api.auth import requires
from casemgmt.api.context import command_context, current_actor, current_container
from casemgmt.api.errors import problem
from casemgmt.api.openapi import Blueprint
from casemgmt.api.schemas import (
    LONG,
    SHORT,
    CategorySchema,
    RequesterSchema,
    Several,
    Text,
    enum_field,
    representable,
)
from casemgmt.application.sessions import SessionConflict, SessionNotFound
from casemgmt.domain import InsuranceLine, Priority
from casemgmt.domain.sessions import MAX_ATTENDANCE, SessionKind, SessionNotHeld, SessionStatus

if TYPE_CHECKING:
    from uuid import UUID

    from werkzeug.wrappers import Response

    from casemgmt.domain.sessions import CareSession

blp = Blueprint(
    "sessions",
    __name__,
    url_prefix="/api/v1/sessions",
    description="Active care: dialogue conferences and policy Q&A sessions",
)


class ScheduleSessionSchema(Schema):
    """A conference or Q&A session to hold."""

    kind = enum_field(SessionKind, required=True)
    topic = Text(required=True, validate=validate.Length(min=1, max=500))
    unit = Text(required=True, validate=SHORT, metadata={"description": "A unit of the taxonomy"})
    line = enum_field(InsuranceLine, allow_none=True)
    scheduled_for = fields.AwareDateTime(required=True, validate=representable)
    place = Text(allow_none=True, validate=SHORT)


class SessionHeldSchema(Schema):
    """That the session took place, and how many came."""

    attendance = fields.Integer(required=True, validate=validate.Range(0, MAX_ATTENDANCE))
    held_at = fields.AwareDateTime(
        validate=representable, metadata={"description": "When it took place; now when left out"}
    )


class QuestionSchema(Schema):
    """A question raised at the session: it opens an in-person case linked to the session."""

    subject = Text(required=True, validate=validate.Length(min=1, max=500))
    body = Text(allow_none=True, validate=LONG)
    requester = fields.Nested(RequesterSchema, required=True)
    category = fields.Nested(CategorySchema, metadata={"description": "Line: the session's"})
    priority = enum_field(Priority)
    unit = Text(allow_none=True, validate=SHORT, metadata={"description": "The session's unit"})
    question_ref = Text(
        allow_none=True,
        validate=validate.Length(min=1, max=200),
        metadata={"description": "The question's own reference: sent again, it finds its case"},
    )


class SessionQuerySchema(Schema):
    """Filters of the session list; a session matches all of them."""

    kind = Several(enum_field(SessionKind))
    unit = Several(Text(validate=SHORT))
    line = Several(enum_field(InsuranceLine))
    status = Several(enum_field(SessionStatus))
    scheduled_from = fields.AwareDateTime(validate=representable)
    scheduled_to = fields.AwareDateTime(validate=representable)


class QuestionView(Schema):
    case_id = fields.UUID(required=True)
    reference = fields.String(required=True)


class SessionView(Schema):
    id = fields.UUID(required=True)
    version = fields.Integer(required=True)
    kind = enum_field(SessionKind, required=True)
    status = enum_field(SessionStatus, required=True)
    topic = fields.String(required=True)
    unit = fields.String(required=True)
    line = enum_field(InsuranceLine, allow_none=True)
    scheduled_for = fields.DateTime(required=True)
    place = fields.String(allow_none=True)
    held_at = fields.DateTime(allow_none=True)
    attendance = fields.Integer(allow_none=True)
    questions = fields.List(fields.Nested(QuestionView), required=True)


class QuestionRaisedView(Schema):
    session = fields.Nested(SessionView, required=True)
    case_id = fields.UUID(required=True)
    reference = fields.String(required=True)
    created = fields.Boolean(required=True)


def session_state(session: CareSession) -> dict[str, Any]:
    return {
        "id": session.id,
        "version": session.version,
        "kind": session.kind,
        "status": session.status,
        "topic": session.topic,
        "unit": session.unit,
        "line": session.line,
        "scheduled_for": session.scheduled_for,
        "place": session.place,
        "held_at": session.held_at,
        "attendance": session.attendance,
        "questions": [{"case_id": c, "reference": r} for c, r in session.questions],
    }


@blp.route("")
class Sessions(MethodView):
    @requires("read-sessions")
    @blp.problems(422)
    @blp.arguments(SessionQuerySchema, location="query", as_kwargs=True, unknown=RAISE)
    @blp.response(200, SessionView(many=True))
    def get(self, **filters: Any) -> list[dict[str, Any]]:
        """List the sessions, soonest scheduled first (filters: kind, unit, line, status, dates)."""
        sessions = current_container().care_sessions.list_sessions(current_actor(), **filters)
        return [session_state(session) for session in sessions]

    @requires("schedule-session")
    @blp.problems(422)
    @blp.arguments(ScheduleSessionSchema, as_kwargs=True)
    @blp.response(201, SessionView)
    def post(self, **body: Any) -> dict[str, Any]:
        """Schedule a dialogue conference or a policy Q&A session of a unit."""
        session = current_container().care_sessions.schedule(**body, ctx=command_context())
        return session_state(session)


@blp.route("/<uuid:session_id>")
class OneSession(MethodView):
    @requires("read-sessions")
    @blp.problems(404)
    @blp.response(200, SessionView)
    def get(self, session_id: UUID) -> dict[str, Any]:
        """Read a session: its plan, whether it was held, its attendance and its cases."""
        sessions = current_container().care_sessions
        return session_state(sessions.read_session(session_id, current_actor()))


@blp.route("/<uuid:session_id>/held")
class SessionHeld(MethodView):
    @requires("record-session")
    @blp.problems(404, 409, 422)
    @blp.arguments(SessionHeldSchema, as_kwargs=True)
    @blp.response(200, SessionView)
    def post(self, session_id: UUID, **body: Any) -> dict[str, Any]:
        """Record that the session was held, and its attendance (once)."""
        sessions = current_container().care_sessions
        return session_state(sessions.record_held(session_id, **body, ctx=command_context()))


@blp.route("/<uuid:session_id>/questions")
class SessionQuestions(MethodView):
    @requires("raise-question")
    @blp.problems(404, 409, 422)
    @blp.arguments(QuestionSchema, as_kwargs=True)
    @blp.response(201, QuestionRaisedView)
    @blp.alt_response(200, schema=QuestionRaisedView, description="The question was known")
    def post(self, session_id: UUID, **body: Any) -> tuple[dict[str, Any], int]:
        """Record a question raised at a held session: it opens an in-person case linked to it."""
        sessions = current_container().care_sessions
        session, case, created = sessions.raise_question(session_id, **body, ctx=command_context())
        answer = {
            "session": session_state(session),
            "case_id": case.id,
            "reference": case.reference,
            "created": created,
        }
        return answer, 201 if created else 200


def _session_not_found(error: SessionNotFound) -> Response:
    return problem(404, "session-not-found", str(error), title="Session not found")


def _session_not_held(error: SessionNotHeld) -> Response:
    return problem(
        409, "session-state", str(error), title="Not in this state", session_status=error.status
    )


def _session_conflict(error: SessionConflict) -> Response:
    return problem(409, "concurrent-update", f"{error}; nothing was saved", title="Conflict")


blp.register_error_handler(SessionNotFound, _session_not_found)
blp.register_error_handler(SessionNotHeld, _session_not_held)
blp.register_error_handler(SessionConflict, _session_conflict)
