"""Bearer tokens: who is calling, and whether their role may do what they ask.

`requires(operation)` goes above flask-smorest's decorators, so that a caller learns that they may
not do something (401, 403) before learning what is wrong with their request (400, 422).
"""

from __future__ import annotations

from functools import wraps
from typing import TYPE_CHECKING, Any, TypeVar, cast

from flask import g, request

from casemgmt.api.context import current_container
from casemgmt.api.errors import Unauthenticated
from casemgmt.application import authorize
from casemgmt.application.authorization import roles_that_may
from casemgmt.application.directory import TokenRefused
from casemgmt.domain import Actor

if TYPE_CHECKING:
    from collections.abc import Callable

    from casemgmt.persistence.accounts import Account

F = TypeVar("F", bound="Callable[..., Any]")


def authenticate() -> Account:
    """The account whose token the request carries (`Authorization: Bearer <token>`)."""
    scheme, _, token = request.headers.get("Authorization", "").strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise Unauthenticated(
            "this call needs a bearer token: Authorization: Bearer <token>", invalid_token=False
        )
    try:
        return current_container().accounts.verify(token)
    except TokenRefused as refused:
        raise Unauthenticated(str(refused), invalid_token=True) from None


def requires(operation: str) -> Callable[[F], F]:
    """A view decorator: authenticate the caller, then refuse what their role may not do.

    The view's OpenAPI description ends saying which roles may call it (from the same table).
    """

    def decorator(view: F) -> F:
        @wraps(view)
        def checked(*args: Any, **kwargs: Any) -> Any:
            account = authenticate()
            authorize(Actor(account.name, account.role), operation)
            g.account = account
            return view(*args, **kwargs)

        _say_who_may(checked, operation)
        return cast("F", checked)

    return decorator


def _say_who_may(view: Callable[..., Any], operation: str) -> None:
    """Adds "Who may: …" to the description flask-smorest documents for the view."""
    apidoc = dict(getattr(view, "_apidoc", {}))
    manual = dict(apidoc.get("manual_doc", {}))
    description = manual.get("description")
    if description is None:  # flask-smorest's own: the docstring after its first line
        description = "\n".join((view.__doc__ or "").strip().splitlines()[1:]).strip()
    if "Who may:" not in description:
        who = ", ".join(role.value for role in roles_that_may(operation))
        manual["description"] = f"{description} Who may: {who}.".strip()
    apidoc["manual_doc"] = manual
    view._apidoc = apidoc  # type: ignore[attr-defined]
