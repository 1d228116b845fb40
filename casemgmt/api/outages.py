"""An unreachable PostgreSQL or Redis answers `503` with `Retry-After`, not `500`.

A request that finds the database or Redis down (refused, dropped, timed out, every pooled
connection busy) is answered `503 Service Unavailable` problem+json with `Retry-After` and the
correlation id, and leaves one log line: which server, the error's first line, the correlation id;
no traceback, since the cause is the outage and not the code. Nothing is kept between requests:
the connection pool and the Redis client connect again on the next request, so the API recovers
by itself when the server is back.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Final

import psycopg2
import redis
from eventsourcing.persistence import InterfaceError, OperationalError
from flask import g, request

from casemgmt.api.errors import problem

if TYPE_CHECKING:
    from flask import Flask, Response

RETRY_AFTER_SECONDS: Final = 5

# psycopg2's own errors are translated into eventsourcing's by the datastore; both are listed in
# case one escapes untranslated. OperationalError also covers a serialization failure or a lock
# timeout: a 503 with "try again" fits them as well.
DATABASE_OUTAGES: Final = (
    OperationalError,
    InterfaceError,
    psycopg2.OperationalError,
    psycopg2.InterfaceError,
)
REDIS_OUTAGES: Final = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)

log = logging.getLogger(__name__)


def _unavailable(error: Exception) -> Response:
    server = "Redis" if isinstance(error, REDIS_OUTAGES) else "the database"
    correlation_id = g.get("correlation_id")
    first_line = (str(error).strip().splitlines() or [""])[0]
    log.error(
        "%s unavailable: %s %s: %s: %s",
        server,
        request.method,
        request.path,
        type(error).__name__,
        first_line,
        extra={"fields": {"correlation_id": correlation_id, "outage": server}},
    )
    detail = (
        f"{server} cannot be reached just now; try again in {RETRY_AFTER_SECONDS} seconds "
        "(a command repeated with If-Match, or an intake repeated with its external_ref, is "
        "safe: it is not carried out twice)"
    )
    return problem(
        503,
        "service-unavailable",
        detail,
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        correlation_id=correlation_id,
    )


def register_outage_handlers(app: Flask) -> None:
    for error_class in (*DATABASE_OUTAGES, *REDIS_OUTAGES):
        app.register_error_handler(error_class, _unavailable)
