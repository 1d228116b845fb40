"""`/api/v1/health`: whether this process can reach its database and Redis, and how far behind the
projections (case list, work queues) are. No token needed.

Only a component that is down makes the service unavailable (503). A projection that is behind is
reported, not failed: lists and queues still answer, a little late.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Final

from flask.views import MethodView

from casemgmt.api.context import current_container
from casemgmt.api.openapi import Blueprint
from casemgmt.api.representations import HealthView

if TYPE_CHECKING:
    from collections.abc import Callable

    from casemgmt.bootstrap import Container

blp = Blueprint("health", __name__, url_prefix="/api/v1/health", description="Health")
log = logging.getLogger(__name__)

# More notifications behind than this, and a projection is "lagging": about one batch of a worker.
LAGGING_AFTER: Final = 500
# The worst status of the projections names the component's; "down" is decided by the probe.
_SEVERITY: Final = ("up", "lagging", "catching_up", "stopped")

Component = dict[str, Any]
UP: Final[Component] = {"status": "up", "detail": None}


def _database(container: Container) -> Component:
    container.datastore.execute("SELECT 1", retries=0)
    return UP


def _redis(container: Container) -> Component:
    container.redis.ping()
    return UP


def _projections(container: Container) -> Component:
    projections = container.projections
    lag, positions, processed = projections.lag(), projections.positions(), projections.holders()
    each = {
        name: {
            "status": projection_status(behind, positions.get(name), name in processed),
            "lag": behind,
            "position": positions.get(name),
        }
        for name, behind in lag.items()
    }
    status = max((p["status"] for p in each.values()), key=_SEVERITY.index, default="up")
    behind = [f"{name} {p['status']} ({p['lag']} behind)" for name, p in each.items() if p["lag"]]
    return {"status": status, "detail": "; ".join(behind) or None, "projections": each}


def projection_status(lag: int, position: int | None, processed: bool) -> str:
    if lag == 0:
        return "up"
    if not processed:
        return "stopped"  # nobody will catch it up: no worker holds its lock
    if position is None:
        return "catching_up"
    return "lagging" if lag > LAGGING_AFTER else "up"


# The projections are read from the database and Redis, so they are probed after, and only if, both
# answer; otherwise they are down with them.
CHECKS: dict[str, Callable[[Container], Component]] = {"database": _database, "redis": _redis}
DEPENDENT_CHECKS: dict[str, Callable[[Container], Component]] = {"projections": _projections}


def _check(name: str, probe: Callable[[Container], Component]) -> Component:
    try:
        return probe(current_container())
    except Exception as error:
        log.warning("health: %s is down: %r", name, error)
        return {"status": "down", "detail": type(error).__name__}


@blp.route("")
class Health(MethodView):
    @blp.response(200, HealthView, description="No component is down")
    @blp.alt_response(503, schema=HealthView, description="A component is down")
    def get(self) -> tuple[dict[str, Any], int]:
        """Say whether the database and Redis answer, and how far behind the projections are."""
        components = {name: _check(name, probe) for name, probe in CHECKS.items()}
        servers_up = all(c["status"] == "up" for c in components.values())
        for name, probe in DEPENDENT_CHECKS.items():
            components[name] = (
                _check(name, probe)
                if servers_up
                else {"status": "down", "detail": "needs the database and Redis"}
            )
        healthy = all(c["status"] != "down" for c in components.values())
        status = "ok" if healthy else "unavailable"
        return {"status": status, "components": components}, 200 if healthy else 503
