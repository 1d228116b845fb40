"""Who may call the API: named accounts, one role each, bearer tokens kept only as hashes."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING

from eventsourcing.persistence import IntegrityError

from casemgmt.domain import ACCOUNT_ROLES, Role

if TYPE_CHECKING:
    from casemgmt.persistence.datastore import Datastore


class AccountError(ValueError):
    """An account cannot be created as asked; the message says why."""


@dataclass(frozen=True)
class Account:
    """A person or integration the API knows, by name and role."""

    id: int
    name: str
    role: Role


class Accounts:
    """Accounts in PostgreSQL (table `accounts`, created by migration 0002)."""

    def __init__(self, datastore: Datastore) -> None:
        self.datastore = datastore

    def add(self, name: str, role: Role | str) -> tuple[Account, str]:
        """Create an account; return it with its token, which is shown once and never stored."""
        name = name.strip()
        if not name:
            raise AccountError("the account needs a name")
        role = _account_role(role)
        token = secrets.token_urlsafe(32)
        try:
            rows = self.datastore.execute(
                "INSERT INTO accounts (name, role, token_hash) VALUES (%s, %s, %s) RETURNING id",
                [name, role.value, _hash(token)],
                retries=0,
            )
        except IntegrityError:
            raise AccountError(f"an account named {name!r} already exists") from None
        return Account(id=rows[0][0], name=name, role=role), token

    def authenticate(self, token: str) -> Account | None:
        """The account a bearer token belongs to, or None for an unknown or disabled one."""
        rows = self.datastore.execute(
            "SELECT id, name, role FROM accounts WHERE token_hash = %s AND disabled_at IS NULL",
            [_hash(token)],
        )
        if not rows:
            return None
        account_id, name, role = rows[0]
        return Account(id=account_id, name=name, role=Role(role))


def _account_role(role: Role | str) -> Role:
    try:
        parsed = Role(role)
    except ValueError:
        parsed = None
    if parsed not in ACCOUNT_ROLES:
        allowed = ", ".join(r.value for r in ACCOUNT_ROLES)
        raise AccountError(f"unknown role {role!r}; choose one of: {allowed}")
    assert parsed is not None
    return parsed


def _hash(token: str) -> bytes:
    # Tokens are 256 random bits, so a fast hash is enough: there is nothing to brute-force.
    return hashlib.sha256(token.encode()).digest()
