"""`/api/v1/accounts`: the accounts and their tokens' lifecycle, for administrators.

A new or rotated token is in the answer once and never again (only its hash is kept). Every change
is recorded with who made it; `GET /accounts/{name}/changes` shows them to auditors and admins.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any, Final

from flask.views import MethodView
from marshmallow import RAISE, Schema, fields, validate

from casemgmt.api.auth import requires
from casemgmt.api.context import current_account, current_container, moment_of_request
from casemgmt.api.errors import problem
from casemgmt.api.openapi import Blueprint
from casemgmt.api.schemas import enum_field
from casemgmt.application.directory import (
    MAX_LIFETIME,
    AccountError,
    AccountExists,
    AccountNotFound,
    Change,
)
from casemgmt.domain import ACCOUNT_ROLES, Role

if TYPE_CHECKING:
    from flask import Response

    from casemgmt.persistence.accounts import AccountChange, AccountRecord

blp = Blueprint(
    "accounts", __name__, url_prefix="/api/v1/accounts", description="Accounts and tokens"
)

NAME_PATTERN: Final = r"^[\w.@+-]{1,100}$"
_NULLABLE: Final[dict[str, Any]] = {"required": True, "allow_none": True}


class AccountView(Schema):
    """An account: its role and its token's lifecycle (never the token)."""

    name = fields.String(required=True)
    role = enum_field(Role, required=True)
    state = fields.String(required=True, metadata={"enum": ["active", "disabled", "expired"]})
    created_at = fields.DateTime(required=True)
    last_used_at = fields.DateTime(
        **_NULLABLE, metadata={"description": "The last request with its token, to the minute"}
    )
    expires_at = fields.DateTime(**_NULLABLE, metadata={"description": "null: never"})
    disabled_at = fields.DateTime(**_NULLABLE)


class AccountWithTokenView(AccountView):
    """An account with its new token: shown this once, never stored."""

    token = fields.String(required=True)


class AccountChangeView(Schema):
    """A change to an account: what, when, by whom."""

    account = fields.String(required=True)
    change = enum_field(Change, required=True)
    changed_by = fields.String(
        required=True, metadata={"description": "An account, or cli:<user> for the command line"}
    )
    changed_at = fields.DateTime(required=True)
    detail = fields.String(**_NULLABLE)


def _lifetime_field() -> fields.Integer:
    return fields.Integer(
        load_default=None,
        allow_none=True,
        validate=validate.Range(1, MAX_LIFETIME.days),
        metadata={"description": "The token expires this many days from now; left out: never"},
    )


class NewAccountSchema(Schema):
    name = fields.String(
        required=True,
        validate=validate.Regexp(NAME_PATTERN, error="1 to 100 letters, digits or . _ @ + -"),
    )
    role = fields.String(
        required=True, validate=validate.OneOf([role.value for role in ACCOUNT_ROLES])
    )
    expires_in_days = _lifetime_field()


class RotateSchema(Schema):
    expires_in_days = fields.Integer(
        load_default=None,
        allow_none=True,
        validate=validate.Range(1, MAX_LIFETIME.days),
        metadata={"description": "The new token lives this many days; left out: as the old one"},
    )


def account_state(record: AccountRecord) -> dict[str, Any]:
    """An account as `AccountView` dumps it; expired or not at the moment of the request."""
    return {
        "name": record.name,
        "role": record.role,
        "state": record.state_at(moment_of_request()),
        "created_at": record.created_at,
        "last_used_at": record.last_used_at,
        "expires_at": record.expires_at,
        "disabled_at": record.disabled_at,
    }


def change_state(change: AccountChange) -> dict[str, Any]:
    return {
        "account": change.account,
        "change": change.change,
        "changed_by": change.changed_by,
        "changed_at": change.changed_at,
        "detail": change.detail,
    }


def _days(days: int | None) -> timedelta | None:
    return None if days is None else timedelta(days=days)


@blp.route("")
class Accounts(MethodView):
    @requires("accounts")
    @blp.problems()
    @blp.response(200, AccountView(many=True))
    def get(self) -> list[dict[str, Any]]:
        """List every account with its role and its token's lifecycle (admins)."""
        return [account_state(record) for record in current_container().accounts.everyone()]

    @requires("accounts")
    @blp.problems(400, 409, 415, 422)
    @blp.arguments(NewAccountSchema, unknown=RAISE)
    @blp.response(201, AccountWithTokenView)
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """Create an account; its token is in this answer only (admins)."""
        accounts = current_container().accounts
        account, token = accounts.add(
            body["name"],
            body["role"],
            expires_in=_days(body["expires_in_days"]),
            by=current_account().name,
        )
        return {**account_state(accounts.get(account.name)), "token": token}


@blp.route("/<string:name>/disable")
class DisableAccount(MethodView):
    @requires("accounts")
    @blp.problems(404)
    @blp.response(200, AccountView)
    def post(self, name: str) -> dict[str, Any]:
        """Disable an account: its token is refused from its next request on (admins)."""
        record, _ = current_container().accounts.disable(name, by=current_account().name)
        return account_state(record)


@blp.route("/<string:name>/enable")
class EnableAccount(MethodView):
    @requires("accounts")
    @blp.problems(404)
    @blp.response(200, AccountView)
    def post(self, name: str) -> dict[str, Any]:
        """Enable a disabled account again (admins)."""
        record, _ = current_container().accounts.enable(name, by=current_account().name)
        return account_state(record)


@blp.route("/<string:name>/rotate")
class RotateToken(MethodView):
    @requires("accounts")
    @blp.problems(400, 404, 415, 422)
    @blp.arguments(RotateSchema, required=False, unknown=RAISE)
    @blp.response(200, AccountWithTokenView)
    def post(self, body: dict[str, Any], name: str) -> dict[str, Any]:
        """Give an account a new token, in this answer only; the old one stops working at once."""
        record, token = current_container().accounts.rotate(
            name, by=current_account().name, expires_in=_days(body.get("expires_in_days"))
        )
        return {**account_state(record), "token": token}


@blp.route("/<string:name>/changes")
class AccountChanges(MethodView):
    @requires("audit")
    @blp.problems(404)
    @blp.response(200, AccountChangeView(many=True))
    def get(self, name: str) -> list[dict[str, Any]]:
        """Every change to an account, oldest first: created, disabled, enabled, rotated, by
        whom (auditors, admins)."""
        return [change_state(change) for change in current_container().accounts.changes(name)]


def _account_not_found(error: AccountNotFound) -> Response:
    return problem(404, "account-not-found", str(error), title="Account not found")


def _account_exists(error: AccountExists) -> Response:
    return problem(409, "account-exists", str(error), title="Account exists")


def _account_error(error: AccountError) -> Response:
    return problem(422, "invalid-input", str(error), errors={"body": [str(error)]})


# The blueprint's own: Flask looks here before the app's handlers, for errors of these views.
blp.register_error_handler(AccountNotFound, _account_not_found)
blp.register_error_handler(AccountExists, _account_exists)
blp.register_error_handler(AccountError, _account_error)
