"""`/api/v1/audit`: the audit trail, for auditors and admins — every event of the care centre (the
action log) and every read of a case through the API — filtered, newest first, a page at a time.

`record_read` is how the case views note that a case was read (`casemgmt.persistence.reads`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flask import g
from flask.views import MethodView
from marshmallow import RAISE, fields, validate

from casemgmt.api.auth import requires
from casemgmt.api.context import (
    current_account,
    current_container,
)
from casemgmt.api.openapi import Blueprint
from casemgmt.api.presenters import audit_event_state, case_read_state, page_state
from casemgmt.api.representations import AuditEventListView, CaseReadListView
from casemgmt.api.schemas import SHORT, Paged, QueryMoment, Several, Text, enum_field
from casemgmt.domain import Role
from casemgmt.queries.audit import find_events, find_reads
from casemgmt.readmodels.audit_entry import EVENT_TYPES, CaseRead

if TYPE_CHECKING:
    from uuid import UUID

    from casemgmt.readmodels.audit_entry import ReadView

blp = Blueprint("audit", __name__, url_prefix="/api/v1/audit", description="Audit trail")


class AuditQuerySchema(Paged):
    """Which part of the audit trail, which page: every filter given must match.

    A filter takes several values, repeated or separated by commas (`?actor=a,b`); a time range
    is `from` (included) to `to` (excluded).
    """

    actor = Several(Text(validate=SHORT), metadata={"description": "Account names"})
    case = Several(
        Text(validate=SHORT), metadata={"description": "Case ids or references (CC-2026-000001)"}
    )
    start = QueryMoment(
        data_key="from",
        metadata={"description": "From this moment on (ISO-8601, with offset)"},
    )
    end = QueryMoment(
        data_key="to",
        metadata={"description": "Before this moment (ISO-8601, with offset)"},
    )


class AuditEventsQuerySchema(AuditQuerySchema):
    """Which events of the action log, which page: every filter given must match.

    A filter takes several values, repeated or separated by commas (`?type=Assigned,Transferred`);
    a time range is `from` (included) to `to` (excluded).
    """

    role = Several(enum_field(Role), metadata={"description": "The actors' roles"})
    type = Several(
        fields.String(validate=validate.OneOf(EVENT_TYPES)),
        metadata={"description": "Event types: Received, Triaged, Assigned, …"},
    )
    unit = Several(
        Text(validate=SHORT), metadata={"description": "The case's unit after the event"}
    )


@blp.route("/events")
class AuditEvents(MethodView):
    @requires("audit")
    @blp.problems(422)
    @blp.arguments(AuditEventsQuerySchema, location="query", as_kwargs=True, unknown=RAISE)
    @blp.response(200, AuditEventListView)
    def get(self, **query: Any) -> dict[str, Any]:
        """List the events of the care centre (who did what, when, why), newest first.

        Every event of every case is there, within moments of it: who (account, role, on whose
        behalf), what (type, data, and what it changed in words), to which case (and its unit
        then), when, why (cause) and in which request (correlation id).
        """
        roles = query.get("role")
        entries, total = find_events(
            current_container().datastore,
            actor=query.get("actor"),
            role=None if roles is None else [role.value for role in roles],
            case=query.get("case"),
            event_type=query.get("type"),
            unit=query.get("unit"),
            start=query.get("start"),
            end=query.get("end"),
            page=query["page"],
            per_page=query["per_page"],
        )
        items = [audit_event_state(entry) for entry in entries]
        return page_state(items, total, query["page"], query["per_page"])


@blp.route("/reads")
class AuditReads(MethodView):
    @requires("audit")
    @blp.problems(422)
    @blp.arguments(AuditQuerySchema, location="query", as_kwargs=True, unknown=RAISE)
    @blp.response(200, CaseReadListView)
    def get(self, **query: Any) -> dict[str, Any]:
        """List the reads of cases through the API (who read which case, when), newest first."""
        reads, total = find_reads(
            current_container().datastore,
            actor=query.get("actor"),
            case=query.get("case"),
            start=query.get("start"),
            end=query.get("end"),
            page=query["page"],
            per_page=query["per_page"],
        )
        items = [case_read_state(read) for read in reads]
        return page_state(items, total, query["page"], query["per_page"])


def record_read(case_id: UUID, reference: str, view: ReadView, on_behalf_of: str | None) -> None:
    """Notes that the caller read the case in this view (written within moments, in a batch);
    `on_behalf_of` as the application checked and recorded it."""
    account = current_account()
    container = current_container()
    container.reads.record(
        CaseRead(
            read_at=container.clock(),
            account=account.name,
            role=account.role.value,
            on_behalf_of=on_behalf_of or None,
            case_id=case_id,
            case_reference=reference,
            view=view.value,
            correlation_id=g.correlation_id,
        )
    )
