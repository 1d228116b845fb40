"""`/api/v1/cases`: open a case, list and find cases, read one (now or as it was), read its
history, act on it.

The list pages explicitly: `?page=` and `?per_page=` in, and `total` (how many cases match),
`page`, `per_page` and `pages` in the body beside `items`, so that one strict query schema names
every parameter it accepts and a client reads the count without parsing a header.
"""

from __future__ import annotations

from enum import Enum
from typing import TYPE_CHECKING, Any, Final

from flask import url_for
from flask.views import MethodView
from marshmallow import RAISE

from casemgmt.api.audit import record_read
from casemgmt.api.auth import requires
from casemgmt.api.context import (
    ENTITY_TAG_PATTERN,
    command_context,
    current_account,
    current_actor,
    current_container,
    etag,
    expected_version,
    moment_of_request,
)
from casemgmt.api.openapi import Blueprint
from casemgmt.api.presenters import (
    case_state,
    history_entries,
    intake_case_state,
    intake_summary_state,
    summary_state,
)
from casemgmt.api.representations import CaseListView, CaseView, HistoryEntryView
from casemgmt.api.schemas import (
    ACTION_BODIES,
    CaseListQuerySchema,
    CaseQuerySchema,
    OpenCaseSchema,
)
from casemgmt.application import CaseNotFound, narrowed, roles_that_may
from casemgmt.domain import Action, Actor
from casemgmt.queries import search_cases
from casemgmt.queries.case_ids import case_id_by_reference
from casemgmt.readmodels.audit_entry import ReadView

if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import datetime
    from uuid import UUID

    from casemgmt.domain import Case

blp = Blueprint("cases", __name__, url_prefix="/api/v1/cases", description="Cases")

ETAG_HEADER: Final = {"ETag": {"description": "The case's version", "schema": {"type": "string"}}}
LOCATION_HEADER: Final = {"Location": {"description": "The case", "schema": {"type": "string"}}}


def _header(name: str, description: str, **schema: Any) -> dict[str, Any]:
    return {
        "in": "header",
        "name": name,
        "required": False,
        "description": description,
        "schema": {"type": "string", **schema},
    }


COMMON_HEADERS: Final = [
    _header("X-Correlation-ID", "Carried by the events recorded and echoed; made when absent"),
    _header(
        "X-On-Behalf-Of",
        "The case's requester, when the caller acts for them: `requester`, or their id or name "
        "as the case records them (recorded as `requester`); any other value is refused (403)",
    ),
]
IF_MATCH: Final = _header(
    "If-Match", 'The version the command expects, "3"; 412 when stale', pattern=ENTITY_TAG_PATTERN
)


def case_response(
    case: Case, status: int = 200, *, at: datetime | None = None
) -> tuple[dict[str, Any], int, dict[str, str]]:
    """The case view, with its version as the ETag; its clocks as at `at` (default: now).

    An intake account gets the narrowed view: what it needs of a case it opened.
    """
    container = current_container()
    account = current_account()
    if narrowed(Actor(account.name, account.role)):
        recorded = container.care_centre.messages_recorded_by(case.id, account.name, case.version)
        return intake_case_state(case, recorded), status, {"ETag": etag(case.version)}
    now = moment_of_request() if at is None else at
    view = case_state(case, container.routing, container.sla_policy, now)
    return view, status, {"ETag": etag(case.version)}


def _stored(value: Any) -> Any:
    """A filter's values as the case list stores them (`"in_progress"`, not the enum)."""
    if isinstance(value, list):
        return [item.value if isinstance(item, Enum) else item for item in value]
    return value


@blp.route("")
class Cases(MethodView):
    @requires("read")
    @blp.problems(422)
    @blp.arguments(CaseListQuerySchema, location="query", as_kwargs=True, unknown=RAISE)
    @blp.response(200, CaseListView)
    def get(self, **query: Any) -> dict[str, Any]:
        """List the cases that match the filters, a page at a time, and how many match.

        An intake account lists only the cases it opened, narrowed to what it needs.
        """
        filters = {name: _stored(value) for name, value in query.items()}
        now = moment_of_request()
        account = current_account()
        intake = narrowed(Actor(account.name, account.role))
        if intake:
            filters["opened_by"] = [account.name]
        summaries, total = search_cases(current_container().datastore, now=now, **filters)
        per_page = query["per_page"]
        return {
            "items": [
                intake_summary_state(summary) if intake else summary_state(summary, now)
                for summary in summaries
            ],
            "total": total,
            "page": query["page"],
            "per_page": per_page,
            "pages": -(-total // per_page),
        }

    @requires("open")
    @blp.problems(400, 409, 413, 415, 422)
    @blp.doc(parameters=COMMON_HEADERS)
    @blp.arguments(OpenCaseSchema)
    @blp.response(201, CaseView, description="A new case", headers=ETAG_HEADER | LOCATION_HEADER)
    @blp.alt_response(
        200,
        schema=CaseView,
        description="The case already opened for this external_ref",
        headers=ETAG_HEADER | LOCATION_HEADER,
        success=True,
    )
    def post(self, body: dict[str, Any]) -> tuple[dict[str, Any], int, dict[str, str]]:
        """Open a case from a channel, or find the one opened for the same message."""
        centre = current_container().care_centre
        case, created = centre.open_case(**body, ctx=command_context())
        data, status, headers = case_response(case, 201 if created else 200)
        headers["Location"] = url_for("cases.Case", case_id=case.id)
        return data, status, headers


@blp.route("/<uuid:case_id>", endpoint="Case")
class CaseResource(MethodView):
    @requires("read")
    @blp.problems(404, 422)
    @blp.arguments(CaseQuerySchema, location="query", as_kwargs=True, unknown=RAISE)
    @blp.response(200, CaseView, headers=ETAG_HEADER)
    def get(self, case_id: UUID, **query: Any) -> tuple[dict[str, Any], int, dict[str, str]]:
        """Read a case as it is now, at a version (?version=N) or at a moment (?as_of=…)."""
        return _read_case(case_id, query)


@blp.route("/by-reference/<reference>", endpoint="CaseByReference")
class CaseByReference(MethodView):
    @requires("read")
    @blp.problems(404, 422)
    @blp.arguments(CaseQuerySchema, location="query", as_kwargs=True, unknown=RAISE)
    @blp.response(200, CaseView, headers=ETAG_HEADER)
    def get(self, reference: str, **query: Any) -> tuple[dict[str, Any], int, dict[str, str]]:
        """Read a case found by its reference (CC-2026-000001), as `GET /cases/{id}` reads it.

        The reference is looked up in the case list, which has a new case a moment after it was
        opened. An intake account finds only the cases it opened.
        """
        missing = (
            f"no case has the reference {reference!r} (a reference looks like CC-2026-000001; "
            "a case just opened is found a moment later)"
        )
        case_id = case_id_by_reference(current_container().datastore, reference.strip())
        if case_id is None:
            raise CaseNotFound(None, missing)
        try:
            data, status, headers = _read_case(case_id, query)
        except CaseNotFound as error:
            # Not visible to this caller (an intake account's rule): its id is not revealed. What
            # a visible case lacks (a version, a moment) is said as `GET /cases/{id}` says it.
            if str(error) == str(CaseNotFound(case_id)):
                raise CaseNotFound(None, missing) from None
            raise
        headers["Content-Location"] = url_for("cases.Case", case_id=case_id)
        return data, status, headers


def _read_case(case_id: UUID, query: dict[str, Any]) -> tuple[dict[str, Any], int, dict[str, str]]:
    """The case as the caller may see it (now, at a version or at a moment); the read recorded."""
    centre = current_container().care_centre
    case, reader = centre.read_case(case_id, current_actor(), **query)
    past = query.get("as_of") or (case.modified_on if query.get("version") else None)
    record_read(case.id, case.reference, _view_read(query), reader.on_behalf_of)
    return case_response(case, at=past)


@blp.route("/<uuid:case_id>/history")
class CaseHistory(MethodView):
    @requires("read-history")
    @blp.problems(404)
    @blp.response(200, HistoryEntryView(many=True))
    def get(self, case_id: UUID) -> list[dict[str, Any]]:
        """Read every event of a case, in order, with what each changed (not intake)."""
        centre = current_container().care_centre
        events, reader = centre.read_history(case_id, current_actor())
        # A history starts with the case's `Received`, which carries its reference.
        reference = getattr(events[0], "reference", "")
        record_read(case_id, reference, ReadView.HISTORY, reader.on_behalf_of)
        return history_entries(events)


def _view_read(query: dict[str, Any]) -> ReadView:
    if query.get("as_of") is not None:
        return ReadView.CASE_AS_OF
    if query.get("version") is not None:
        return ReadView.CASE_AT_VERSION
    return ReadView.CASE


def _action_view(action: Action) -> Callable[..., Any]:
    """The view of `POST /api/v1/cases/{id}/<action.path>`, documented with the action's body."""
    rule = action.rule
    who = ", ".join(role.value for role in roles_that_may(action.path))

    @requires(action.path)
    @blp.problems(400, 403, 404, 409, 412, 413, 415, 422)
    @blp.doc(
        parameters=[IF_MATCH, *COMMON_HEADERS],
        description=f"{rule.notes or ''} Who may: {who}.".strip(),
    )
    # A body whose every field is optional may be left out: `POST /cases/{id}/close`.
    @blp.arguments(ACTION_BODIES[action], required=any(field.required for field in rule.body))
    @blp.response(200, CaseView, headers=ETAG_HEADER)
    def act(body: dict[str, Any], case_id: UUID) -> Any:
        centre = current_container().care_centre
        case = centre.act(
            case_id, action, command_context(), expected_version=expected_version(), **body
        )
        return case_response(case)

    act.__doc__ = rule.summary
    return act


# One route per declared action: POST /api/v1/cases/{id}/triage, /assign, /unassign, /reply,
# /note, /request-info, /citizen-message, /escalate, /transfer, /resolve, /reopen, /close, /merge,
# /feedback (the declarations are `casemgmt.domain.Action`).
for _action in Action:
    blp.route(
        f"/<uuid:case_id>/{_action.path}", methods=["POST"], endpoint=f"{_action.method}_action"
    )(_action_view(_action))
