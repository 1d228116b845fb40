"""What a request brings to a command: the container, the correlation id, the expected version.

`command_context` makes the domain's `Context` of a command: the calling account as the actor (on
someone's behalf with `X-On-Behalf-Of`), the container's clock, the request's correlation id.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Final, cast
from uuid import uuid4

from flask import current_app, g, request
from werkzeug.exceptions import BadRequest, PreconditionFailed

from casemgmt.domain import Actor, Context, InvalidCommand

if TYPE_CHECKING:
    from datetime import datetime

    from flask import Response

    from casemgmt.bootstrap import Container
    from casemgmt.persistence.accounts import Account

EXTENSION: Final = "casemgmt"
CORRELATION_HEADER: Final = "X-Correlation-ID"
ON_BEHALF_HEADER: Final = "X-On-Behalf-Of"
MAX_ON_BEHALF_OF: Final = 200
# A caller's correlation id is kept when it is short, visible ASCII; otherwise a new one is made.
_CORRELATION_ID: Final = re.compile(r"[\x21-\x7e]{1,128}")
# One entity tag (RFC 9110), or a bare version number for callers that drop the quotes.
ENTITY_TAG_PATTERN: Final = r'^(\*|(W/)?"[\x21\x23-\x7e]*"|[0-9]+)$'
_VERSION_TAG: Final = re.compile(r'"([0-9]+)"|([0-9]+)')


def current_container() -> Container:
    return cast("Container", current_app.extensions[EXTENSION])


def current_account() -> Account:
    """The account `auth.requires` authenticated for this request."""
    return cast("Account", g.account)


def begin_request() -> None:
    """Takes the caller's correlation id, or makes one."""
    given = request.headers.get(CORRELATION_HEADER, "").strip()
    g.correlation_id = given if _CORRELATION_ID.fullmatch(given) else str(uuid4())


def end_request(response: Response) -> Response:
    """Echoes the correlation id, so that a caller can quote it."""
    correlation_id = getattr(g, "correlation_id", None)
    if correlation_id:
        response.headers[CORRELATION_HEADER] = correlation_id
    return response


def current_actor() -> Actor:
    """The calling account as an actor, on someone's behalf with `X-On-Behalf-Of` (which the
    application checks against the case concerned)."""
    account = current_account()
    on_behalf_of = request.headers.get(ON_BEHALF_HEADER, "").strip() or None
    if on_behalf_of is not None and len(on_behalf_of) > MAX_ON_BEHALF_OF:
        raise InvalidCommand(ON_BEHALF_HEADER, f"must be at most {MAX_ON_BEHALF_OF} characters")
    return Actor(id=account.name, role=account.role, on_behalf_of=on_behalf_of)


def command_context() -> Context:
    """Who gives the command, when, in which request and why."""
    clock = current_container().clock
    return Context(actor=current_actor(), at=clock(), correlation_id=g.correlation_id, cause="api")


def etag(version: int) -> str:
    return f'"{version}"'


def expected_version() -> int | None:
    """The version named by `If-Match` (`"3"` or `3`), None without one or with `*`.

    Another entity tag (weak, or not a number) cannot match a case's ETag: 412. A value that is not
    one entity tag at all is a malformed request: 400.
    """
    header = request.headers.get("If-Match")
    if header is None or header.strip() == "*":
        return None
    # An empty If-Match is refused rather than ignored: its sender meant to send a version.
    header = header.strip()
    version = _VERSION_TAG.fullmatch(header)
    if version is not None:
        return int(version.group(1) or version.group(2))
    if re.fullmatch(ENTITY_TAG_PATTERN, header):
        raise PreconditionFailed(f'If-Match: {header} names no version of the case, such as "3"')
    raise BadRequest(f'If-Match must be one entity tag, such as "3", not {header!r}')


def moment_of_request() -> datetime:
    """The container's clock, read once per request: every part of one answer that depends on
    the time (a filter, each item's `at_risk`) is taken at the same moment."""
    if "moment" not in g:
        g.moment = current_container().clock()
    moment: datetime = g.moment
    return moment
