"""`/api/v1/sla`: the SLA clocks that need a supervisor's eye, across every case: the breached and
the at-risk, a page at a time.

Both lists are taken from the case list (a projection: it shows a change within moments of it) at
the moment of the request, by the container's clock.
"""

from __future__ import annotations

from enum import Enum
from typing import TYPE_CHECKING, Any

from flask.views import MethodView
from marshmallow import RAISE

from casemgmt.api.auth import requires
from casemgmt.api.context import current_container, moment_of_request
from casemgmt.api.openapi import Blueprint
from casemgmt.api.presenters import at_risk_state, breach_state, page_state
from casemgmt.api.representations import AtRiskListView, BreachListView
from casemgmt.api.schemas import SlaListQuerySchema
from casemgmt.queries.sla import breached_clocks, clocks_at_risk

if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import datetime

    from casemgmt.queries.sla import CaseClock

blp = Blueprint("sla", __name__, url_prefix="/api/v1/sla", description="SLA clocks")


@blp.route("/breaches")
class Breaches(MethodView):
    @requires("read-queues")
    @blp.problems(422)
    @blp.arguments(SlaListQuerySchema, location="query", as_kwargs=True, unknown=RAISE)
    @blp.response(200, BreachListView)
    def get(self, **query: Any) -> dict[str, Any]:
        """List the SLA clocks of open cases past their deadline, the most overdue first.

        `overdue_seconds` is wall-clock time since the deadline (nights, weekends and holidays
        included); a case's own view gives the working time.
        """
        return _listing(breached_clocks, breach_state, query)


@blp.route("/at-risk")
class AtRisk(MethodView):
    @requires("read-queues")
    @blp.problems(422)
    @blp.arguments(SlaListQuerySchema, location="query", as_kwargs=True, unknown=RAISE)
    @blp.response(200, AtRiskListView)
    def get(self, **query: Any) -> dict[str, Any]:
        """List the SLA clocks at risk now, the soonest due first.

        At risk: running, past the warning instant, before the deadline. `seconds_left` is
        wall-clock time until the deadline; a case's own view gives the working time.
        """
        return _listing(clocks_at_risk, at_risk_state, query)


def _listing(
    find: Callable[..., tuple[list[CaseClock], int]],
    shape: Callable[[CaseClock, datetime], dict[str, Any]],
    query: dict[str, Any],
) -> dict[str, Any]:
    container = current_container()
    now = moment_of_request()
    filters = {name: _stored(value) for name, value in query.items()}
    found, total = find(container.datastore, now, **filters)
    items = [shape(clock, now) for clock in found]
    return page_state(items, total, query["page"], query["per_page"])


def _stored(value: Any) -> Any:
    """A filter's values as the case list stores them (`"first_response"`, not the enum)."""
    if isinstance(value, list):
        return [item.value if isinstance(item, Enum) else item for item in value]
    return value
