"""Every error the API gives, as one shape: RFC 9457 `application/problem+json`.

A problem has `type`, `title`, `status` and `detail`; a 422 adds `errors` (field → messages, with
dotted names for nested fields such as `requester.name`); some add a member of their own
(`case_status` and `allowed_actions` for a refused action, `current_version` for a stale one).
"""

from __future__ import annotations

import json
import logging
import re
from collections import defaultdict
from http import HTTPStatus
from typing import TYPE_CHECKING, Any, Final

from flask import Flask, Response, g, request
from werkzeug.exceptions import HTTPException

from casemgmt.application import (
    CaseNotFound,
    ConcurrentUpdate,
    Forbidden,
    IntakeConflict,
    QueueNotFound,
    StaleVersion,
)
from casemgmt.domain import ActionNotAllowed, InvalidCommand

if TYPE_CHECKING:
    from collections.abc import Iterator

PROBLEM_JSON: Final = "application/problem+json"
PROBLEM_TYPE: Final = "urn:casemgmt:problem:"
# `/api/v1/cases/<anything but by-reference>`, with or without more after it.
_CASE_PATH: Final = re.compile(r"^/api/v1/cases/(?!by-reference(?:/|$))([^/]+)")
_UUID: Final = re.compile(r"[0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}")

log = logging.getLogger(__name__)


class Unauthenticated(Exception):  # noqa: N818 -- names read as what happened
    """The request carries no bearer token, or one that no enabled account holds (401)."""

    def __init__(self, detail: str, *, invalid_token: bool) -> None:
        super().__init__(detail)
        self.invalid_token = invalid_token


def problem(
    status: int,
    slug: str,
    detail: str,
    *,
    title: str | None = None,
    headers: dict[str, str] | None = None,
    **members: Any,
) -> Response:
    """A problem+json response; `members` are extension members such as `errors`."""
    body = {
        "type": PROBLEM_TYPE + slug,
        "title": title or _phrase(status),
        "status": status,
        "detail": detail,
        **members,
    }
    # Ends with a newline, as Flask ends the JSON of a success.
    text = json.dumps(body, ensure_ascii=False) + "\n"
    response = Response(text, status, mimetype=PROBLEM_JSON)
    response.headers.update(headers or {})
    return response


def http_problem(error: HTTPException) -> Response:
    """A problem for werkzeug's and webargs' HTTP errors (routing, size, parsing, validation)."""
    status = error.code or 500
    headers = {k: v for k, v in error.get_headers() if k.lower() != "content-type"}
    data = getattr(error, "data", None) or {}
    if status == 422 and "messages" in data:
        errors = field_errors(data["messages"])
        detail = "invalid input in " + ", ".join(errors)
        return problem(422, "invalid-input", detail, headers=headers, errors=errors)
    if status == 400 and "messages" in data:
        return problem(400, "malformed-json", "the request body is not valid JSON", headers=headers)
    slug = _phrase(status).lower().replace(" ", "-")
    return problem(status, slug, _describe(status, error), headers=headers)


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def _describe(status: int, error: HTTPException) -> str:
    if status == 404:
        return _not_found(request.path)
    if status == 405:
        allowed = getattr(error, "valid_methods", None) or []
        return f"{request.method} is not allowed on {request.path}; allowed: {', '.join(allowed)}"
    if status == 413:
        limit = request.max_content_length
        return f"the request body is larger than the limit of {limit} bytes"
    return error.description or _phrase(status)


def _not_found(path: str) -> str:
    """What is at none of the routes: a case named by something else than its id says so."""
    named = _CASE_PATH.match(path)
    if named is None or _is_uuid(named.group(1)):
        return f"nothing is at {path}"
    return (
        f"nothing is at {path}: a case is named by its id, a UUID such as "
        "3f2b8c1e-5d4a-4e7b-9c1d-2a6f0e8b7c45; to find a case by its reference, "
        f"GET /api/v1/cases/by-reference/{named.group(1)}"
    )


def _is_uuid(text: str) -> bool:
    """Whether the route's `uuid` converter takes this (werkzeug's form: hex in 8-4-4-4-12)."""
    return _UUID.fullmatch(text) is not None


def field_errors(messages: Any) -> dict[str, list[str]]:
    """marshmallow's nested messages, keyed by dotted field names; webargs' location dropped."""
    grouped: dict[str, list[str]] = defaultdict(list)
    locations = messages.values() if isinstance(messages, dict) else [messages]
    for location in locations:
        for field, message in _flatten(location, ""):
            grouped[field].append(message)
    return dict(grouped)


def _flatten(messages: Any, path: str) -> Iterator[tuple[str, str]]:
    if isinstance(messages, dict):
        for key, value in messages.items():
            name = path if key == "_schema" else f"{path}.{key}".lstrip(".")
            yield from _flatten(value, name)
    elif isinstance(messages, list):
        for item in messages:
            yield from _flatten(item, path)
    else:
        yield path or "body", str(messages)


def register_error_handlers(app: Flask) -> None:
    """Problems for the application's and the domain's errors, and for anything unexpected."""
    app.register_error_handler(Unauthenticated, _unauthenticated)
    app.register_error_handler(Forbidden, _forbidden)
    app.register_error_handler(CaseNotFound, _case_not_found)
    app.register_error_handler(QueueNotFound, _queue_not_found)
    app.register_error_handler(IntakeConflict, _intake_conflict)
    app.register_error_handler(ActionNotAllowed, _action_not_allowed)
    app.register_error_handler(ConcurrentUpdate, _concurrent_update)
    app.register_error_handler(StaleVersion, _stale_version)
    app.register_error_handler(InvalidCommand, _invalid_command)
    app.register_error_handler(Exception, _unexpected)


def _unauthenticated(error: Unauthenticated) -> Response:
    challenge = 'Bearer realm="casemgmt"'
    if error.invalid_token:
        challenge += ', error="invalid_token"'
    return problem(401, "unauthenticated", str(error), headers={"WWW-Authenticate": challenge})


def _forbidden(error: Forbidden) -> Response:
    return problem(
        403,
        "forbidden",
        str(error),
        role=error.role,
        operation=error.operation,
        allowed_roles=error.allowed_roles,
    )


def _case_not_found(error: CaseNotFound) -> Response:
    return problem(404, "case-not-found", str(error), title="Case not found")


def _intake_conflict(error: IntakeConflict) -> Response:
    return problem(409, "intake-conflict", str(error), title="Intake conflict", fields=error.fields)


def _queue_not_found(error: QueueNotFound) -> Response:
    return problem(404, "queue-not-found", str(error), title="Queue not found")


def _action_not_allowed(error: ActionNotAllowed) -> Response:
    return problem(
        409,
        "action-not-allowed",
        str(error),
        title="Action not allowed",
        case_status=error.status.value,
        allowed_actions=[action.path for action in error.allowed],
    )


def _concurrent_update(error: ConcurrentUpdate) -> Response:
    now = error.current
    if now is None:  # pragma: no cover -- a case that was changed exists
        detail = f"{error}; nothing was saved"
        return problem(409, "concurrent-update", detail, title="Concurrent update")
    allowed = [action.path for action in now.allowed_actions()]
    detail = (
        f"{error}; nothing was saved: it is now {now.status.value} at version {now.version}, "
        f"allowed actions: {', '.join(allowed) or 'none'}"
    )
    return problem(
        409,
        "concurrent-update",
        detail,
        title="Concurrent update",
        case_status=now.status.value,
        allowed_actions=allowed,
        current_version=now.version,
    )


def _stale_version(error: StaleVersion) -> Response:
    return problem(
        412,
        "stale-version",
        f'{error}: read the case again and retry with If-Match: "{error.actual}"',
        title="Stale version",
        current_version=error.actual,
    )


def _invalid_command(error: InvalidCommand) -> Response:
    errors = {error.field: [error.message]}
    detail = f"invalid input in {error.field}: {error.message}"
    return problem(422, "invalid-input", detail, errors=errors)


def _unexpected(error: Exception) -> Response:
    if isinstance(error, HTTPException):  # raised where flask-smorest's handler does not reach
        return http_problem(error)
    correlation_id = getattr(g, "correlation_id", None)
    log.exception("unexpected error (correlation id %s)", correlation_id)
    detail = "an unexpected error occurred; it was logged with the correlation id"
    return problem(500, "internal-error", detail, correlation_id=correlation_id)
