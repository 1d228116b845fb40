"""`/api/v1/health`: whether this process can reach its database and Redis (no token needed)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from flask.views import MethodView

from casemgmt.api.context import current_container
from casemgmt.api.openapi import Blueprint
from casemgmt.api.representations import HealthView

if TYPE_CHECKING:
    from collections.abc import Callable

    from casemgmt.bootstrap import Container

blp = Blueprint("health", __name__, url_prefix="/api/v1/health", description="Health")
log = logging.getLogger(__name__)


def _database(container: Container) -> None:
    container.datastore.execute("SELECT 1", retries=0)


def _redis(container: Container) -> None:
    container.redis.ping()


CHECKS: dict[str, Callable[[Container], None]] = {"database": _database, "redis": _redis}


def _check(name: str, probe: Callable[[Container], None]) -> dict[str, Any]:
    try:
        probe(current_container())
    except Exception as error:
        log.warning("health: %s is down: %r", name, error)
        return {"status": "down", "detail": type(error).__name__}
    return {"status": "up", "detail": None}


@blp.route("")
class Health(MethodView):
    @blp.response(200, HealthView, description="Every component is up")
    @blp.alt_response(503, schema=HealthView, description="A component is down")
    def get(self) -> tuple[dict[str, Any], int]:
        """Say whether the database and Redis answer."""
        components = {name: _check(name, probe) for name, probe in CHECKS.items()}
        healthy = all(c["status"] == "up" for c in components.values())
        status = "ok" if healthy else "unavailable"
        return {"status": status, "components": components}, 200 if healthy else 503
