"""The answers the server gives by itself, before the app sees a request, as problem+json.

waitress refuses a request whose line and headers are too large (431), whose body is too large
(413, for a chunked body as soon as it grows past the limit) or that is not HTTP (400). Its own
answer is plain text without a correlation id; this one has the app's shape, headers and log line.
"""

from __future__ import annotations

import json
import time
from typing import Any, Final, cast
from uuid import uuid4

from waitress.task import ErrorTask

from casemgmt.api.access_log import record_access
from casemgmt.api.context import CORRELATION_HEADER
from casemgmt.api.errors import PROBLEM_JSON, PROBLEM_TYPE
from casemgmt.api.headers import API_POLICY, NO_STORE, SECURITY_HEADERS

_SLUGS: Final = {
    400: "bad-request",
    413: "request-entity-too-large",
    431: "request-header-fields-too-large",
    500: "internal-error",
}


def server_problem(code: int, reason: str, detail: str, correlation_id: str) -> bytes:
    """The body of a problem the server answers by itself."""
    body = {
        "type": PROBLEM_TYPE + _SLUGS.get(code, "bad-request"),
        "title": reason,
        "status": code,
        "detail": detail,
        "correlation_id": correlation_id,
    }
    return (json.dumps(body, ensure_ascii=False) + "\n").encode()


def describe(code: int, limits: Any) -> str:
    """What the caller did wrong, in words, with the limit that applies."""
    if code == 431:
        return (
            "the request line and headers are larger than the limit of "
            f"{limits.max_request_header_size} bytes"
        )
    if code == 413:
        return f"the request body is larger than the limit of {limits.max_request_body_size} bytes"
    if code == 400:
        return "the request is not valid HTTP/1.1"
    return "the server could not answer the request; it was logged with the correlation id"


class ProblemErrorTask(ErrorTask):
    """waitress's error answer, as problem+json with a correlation id and the security headers."""

    def execute(self) -> None:
        started = time.perf_counter()
        request: Any = self.request  # the parsed request, whose `error` made this task
        error = request.error
        correlation_id = str(uuid4())
        body = server_problem(
            error.code, error.reason, describe(error.code, self.channel.adj), correlation_id
        )
        self.status = f"{error.code} {error.reason}"
        headers = cast("list[tuple[str, str]]", self.response_headers)
        headers.extend(
            [
                ("Content-Type", PROBLEM_JSON),
                (CORRELATION_HEADER, correlation_id),
                *SECURITY_HEADERS.items(),
                ("Content-Security-Policy", API_POLICY),
                ("Cache-Control", NO_STORE),
            ]
        )
        self.set_close_on_finish()
        self.content_length = len(body)
        self.write(body)
        record_access(
            # What was parsed before the error, if anything; the query is kept apart by waitress.
            method=getattr(request, "command", None) or "-",
            path=getattr(request, "path", None) or "-",
            status=error.code,
            seconds=time.perf_counter() - started,
            correlation_id=correlation_id,
            account=None,
        )
