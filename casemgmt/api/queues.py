"""`/api/v1/queues`: how the work queues stand, each one's ordered work list, claim-next.

Queues are a projection of the event log (in Redis), so they show a change within moments of it.
A claim asks the case itself before assigning it (`casemgmt.application.claims`), so it never
hands out a case that was taken or closed meanwhile.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flask import Response
from flask.views import MethodView
from marshmallow import RAISE

from casemgmt.api.auth import requires
from casemgmt.api.cases import COMMON_HEADERS, ETAG_HEADER, case_response
from casemgmt.api.context import command_context, current_container, moment_of_request
from casemgmt.api.openapi import Blueprint
from casemgmt.api.presenters import queue_item_state, queue_overview_state
from casemgmt.api.representations import CaseView, QueueOverviewView, QueueView
from casemgmt.api.schemas import QueueQuerySchema
from casemgmt.application import QueueNotFound
from casemgmt.queries.sla import at_risk_by_queue

if TYPE_CHECKING:
    from casemgmt.bootstrap import Container
    from casemgmt.queries import QueueOverview, WorkQueues

blp = Blueprint("queues", __name__, url_prefix="/api/v1/queues", description="Work queues")


def _overview(queues: WorkQueues, name: str) -> QueueOverview:
    overviews = queues.queue_overview()
    for overview in overviews:
        if overview.name == name:
            return overview
    raise QueueNotFound(name, [overview.name for overview in overviews])


def _at_risk(container: Container) -> dict[str, int]:
    """Per queue, its waiting cases with an SLA clock at risk or breached now."""
    return at_risk_by_queue(container.datastore, moment_of_request())


@blp.route("")
class Queues(MethodView):
    @requires("read-queues")
    @blp.problems()
    @blp.response(200, QueueOverviewView(many=True))
    def get(self) -> list[dict[str, Any]]:
        """Say how every queue stands: its size, cases per priority and at risk, the oldest wait."""
        container = current_container()
        overviews = container.work_queues.queue_overview()
        at_risk = _at_risk(container)
        return [queue_overview_state(view, at_risk.get(view.name, 0)) for view in overviews]


@blp.route("/<string:name>")
class Queue(MethodView):
    @requires("read-queues")
    @blp.problems(404, 422)
    @blp.arguments(QueueQuerySchema, location="query", as_kwargs=True, unknown=RAISE)
    @blp.response(200, QueueView)
    def get(self, name: str, limit: int) -> dict[str, Any]:
        """List the cases waiting in a queue, in the order claims will take them."""
        container = current_container()
        queues = container.work_queues
        overview = _overview(queues, name)
        items = queues.queue_items(name, limit)
        return {
            **queue_overview_state(overview, _at_risk(container).get(name, 0)),
            "items": [queue_item_state(n, item) for n, item in enumerate(items, 1)],
        }


@blp.route("/<string:name>/claim")
class QueueClaim(MethodView):
    @requires("claim")
    @blp.problems(404, 422)
    @blp.doc(parameters=COMMON_HEADERS)
    @blp.response(
        200, CaseView, description="The case, now assigned to the caller", headers=ETAG_HEADER
    )
    @blp.alt_response(204, description="No case waits in the queue", success=True)
    def post(self, name: str) -> Any:
        """Take the next case of a queue: assign it to the caller."""
        case = current_container().claims.claim_next(name, command_context())
        if case is None:
            return Response(status=204)
        return case_response(case)
