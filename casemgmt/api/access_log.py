"""The access log: one JSON line per request, without the query string, the token or the body.

A search for a citizen (`GET /api/v1/cases?text=Nguyen Van A`) must not put the citizen into the
log, so a line carries the method, the path alone, the status, the duration, the correlation id and
the account's name: enough to find a request again, nothing of what it asked for.
"""

from __future__ import annotations

import json
import logging
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final

from flask import g, request

if TYPE_CHECKING:
    from flask import Flask, Response

ACCESS_LOGGER: Final = "casemgmt.access"
log = logging.getLogger(ACCESS_LOGGER)


class JsonLines(logging.Formatter):
    """A log record as one JSON object per line; `extra={"fields": {...}}` adds members."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            **getattr(record, "fields", {}),
        }
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


def record_access(
    *,
    method: str,
    path: str,
    status: int,
    seconds: float,
    correlation_id: str | None,
    account: str | None,
) -> None:
    """Writes the access line of one request (the app's, or one the server answered itself)."""
    fields = {
        "method": method,
        "path": path,
        "status": status,
        "duration_ms": round(seconds * 1000, 1),
        "correlation_id": correlation_id,
        "account": account,
    }
    log.info("%s %s %s", method, path, status, extra={"fields": fields})


def _start_clock() -> None:
    g.access_started = time.perf_counter()


def _record(response: Response) -> Response:
    started = g.get("access_started", time.perf_counter())
    account = g.get("account")
    record_access(
        method=request.method,
        path=request.path,  # the path alone: the query string stays out of the log
        status=response.status_code,
        seconds=time.perf_counter() - started,
        correlation_id=g.get("correlation_id"),
        account=account.name if account is not None else None,
    )
    return response


def register_access_log(app: Flask) -> None:
    """Times every request from its first hook and logs it once its answer is made."""
    app.before_request(_start_clock)
    app.after_request(_record)
