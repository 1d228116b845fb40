"""Who may call the API: named accounts, one role each, bearer tokens kept only as hashes.

The token lifecycle: a token may expire (`expires_at`; a rotation gives the new token the same
lifetime), an account may be disabled and enabled again, and its token rotated (the old one stops
working with the statement that stores the new hash). Every change is recorded in
`account_changes` by the same statement that makes it, so no change goes unrecorded. The last
use is written at most once a minute per account, as part of the query that authenticates, so a
busy token costs no extra write.

Given Redis, a process remembers the tokens it verified (`SignIns`), so that a request costs no
database round trip to authenticate (docs/performance.md, "Round trips per command"). A disabled,
enabled or rotated account's next request is still judged on the database: every change bumps a
generation counter in Redis after it commits, each request reads that counter (one Redis GET) and
trusts a remembered token only when it was verified under the same generation, less than a minute
ago. Without an answer from Redis nothing is remembered, and every request asks the database.
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Final

import redis
from eventsourcing.persistence import IntegrityError

from casemgmt.application.directory import (
    MAX_LIFETIME,
    AccountDirectory,
    AccountError,
    AccountExists,
    AccountNotFound,
    AccountStanding,
    Change,
    TokenRefused,
)
from casemgmt.domain import ACCOUNT_ROLES, Role

if TYPE_CHECKING:
    from collections.abc import Callable

    from casemgmt.persistence.datastore import Datastore

__all__ = [
    "MAX_LIFETIME",
    "Account",
    "AccountChange",
    "AccountError",
    "AccountExists",
    "AccountNotFound",
    "AccountRecord",
    "Accounts",
    "Change",
    "TokenRefused",
    "parse_lifetime",
]

# Account names appear in URLs (/accounts/{name}) and as a case's assignee.
ACCOUNT_NAME: Final = re.compile(r"[\w.@+-]{1,100}")
# How long a recorded last use stays good enough: more often would be a write per request.
LAST_USED_RESOLUTION: Final = timedelta(minutes=1)
# How many verified tokens a process remembers (the least recently used go first).
REMEMBERED_TOKENS: Final = 10_000

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Account:
    """A person or integration the API knows, by name and role."""

    id: int
    name: str
    role: Role


@dataclass(frozen=True)
class AccountRecord:
    """An account as administrators see it: its token's lifecycle, never the token."""

    name: str
    role: Role
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime | None
    disabled_at: datetime | None

    def state_at(self, now: datetime) -> str:
        """active, disabled or expired."""
        if self.disabled_at is not None:
            return "disabled"
        if self.expires_at is not None and self.expires_at <= now:
            return "expired"
        return "active"


@dataclass(frozen=True)
class AccountChange:
    """One change to an account: what, when, by whom (an account name, or `cli:` and the
    operating-system user for the command line)."""

    account: str
    change: Change
    changed_by: str
    changed_at: datetime
    detail: str | None


def utc_now() -> datetime:
    return datetime.now(UTC)


_RECORD: Final = "name, role, created_at, last_used_at, expires_at, disabled_at"
# Records a change made by the CTE `changed` (which returns id, name and the record): one
# statement, so the change and its record commit together or not at all. `{detail}` is SQL.
_RECORD_CHANGE: Final = (
    "recorded AS (INSERT INTO account_changes"
    " (account_id, account_name, change, changed_by, changed_at, detail)"
    " SELECT id, name, %s, %s, %s, {detail} FROM changed)"
)
_EXPIRY_DETAIL: Final = (
    "CASE WHEN expires_at IS NULL THEN 'the token does not expire' ELSE 'the token expires at '"
    " || to_char(expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') END"
)
_AUTHENTICATE: Final = (
    "WITH found AS (SELECT id, name, role, disabled_at, expires_at FROM accounts"
    " WHERE token_hash = %(hash)s),"
    " touched AS (UPDATE accounts SET last_used_at = %(now)s FROM found"
    " WHERE accounts.id = found.id AND found.disabled_at IS NULL"
    " AND (found.expires_at IS NULL OR found.expires_at > %(now)s)"
    " AND (accounts.last_used_at IS NULL OR accounts.last_used_at < %(stale)s))"
    " SELECT id, name, role, disabled_at, expires_at FROM found"
)


@dataclass(frozen=True)
class _SignIn:
    """A token the database said was good, under which generation of the accounts, and when."""

    account: Account
    expires_at: datetime | None
    generation: bytes
    verified_at: datetime


class SignIns:
    """The tokens this process verified, each trusted while the accounts' generation in Redis is
    the one it was verified under and for less than `LAST_USED_RESOLUTION` (so the last use is
    still written to the minute).

    `generation()` is one Redis GET; None when Redis does not answer, and then nothing is trusted.
    `changed()` bumps the generation: every process's next request asks the database again.
    """

    def __init__(self, client: redis.Redis[bytes], key: str) -> None:
        self.client = client
        self.key = key
        self._remembered: OrderedDict[bytes, _SignIn] = OrderedDict()
        self._lock = threading.Lock()

    def generation(self) -> bytes | None:
        try:
            value = self.client.get(self.key)
        except redis.RedisError:
            return None
        return b"" if value is None else value  # "": no change yet, or Redis lost it (then
        # every remembered token was verified under another generation or under "" as well,
        # and an INCR after a loss starts again at 1, which none of them carries)

    def trusted(self, digest: bytes, generation: bytes, now: datetime) -> _SignIn | None:
        with self._lock:
            found = self._remembered.get(digest)
        if found is None or found.generation != generation:
            return None
        if not found.verified_at <= now < found.verified_at + LAST_USED_RESOLUTION:
            return None
        return found

    def remember(self, digest: bytes, sign_in: _SignIn) -> None:
        with self._lock:
            self._remembered[digest] = sign_in
            self._remembered.move_to_end(digest)
            while len(self._remembered) > REMEMBERED_TOKENS:
                self._remembered.popitem(last=False)

    def changed(self) -> None:
        """Called after an account change committed: no process trusts what it remembers."""
        with self._lock:
            self._remembered.clear()
        try:
            self.client.incr(self.key)
        except redis.RedisError as error:
            # The change is stored; other processes notice it within a minute (the age limit).
            logger.error(
                "an account changed but Redis could not be told (%s): other API processes may "
                "accept its old standing for up to %s",
                error,
                LAST_USED_RESOLUTION,
            )


class Accounts(AccountDirectory):
    """Accounts in PostgreSQL (table `accounts`, migrations 0002 and 0010).

    `sign_ins`: remembers verified tokens (see `SignIns`); None: every request asks the database.
    """

    def __init__(
        self,
        datastore: Datastore,
        clock: Callable[[], datetime] = utc_now,
        *,
        sign_ins: SignIns | None = None,
    ) -> None:
        self.datastore = datastore
        self.clock = clock
        self.sign_ins = sign_ins

    # -- the lifecycle ----------------------------------------------------------------------------

    def add(
        self,
        name: str,
        role: Role | str,
        *,
        expires_in: timedelta | None = None,
        by: str = "cli",
    ) -> tuple[Account, str]:
        """Create an account; return it with its token, which is shown once and never stored."""
        name = name.strip()
        if not ACCOUNT_NAME.fullmatch(name):
            raise AccountError(
                f"{name!r} is not an account name: 1 to 100 letters, digits or . _ @ + -"
            )
        role = _account_role(role)
        lifetime = _lifetime(expires_in)
        token = secrets.token_urlsafe(32)
        now = self.clock()
        expires_at = None if lifetime is None else now + lifetime
        record_change = _RECORD_CHANGE.format(detail=f"'role ' || role || '; ' || {_EXPIRY_DETAIL}")
        try:
            rows = self.datastore.execute(
                "WITH changed AS (INSERT INTO accounts"
                " (name, role, token_hash, created_at, expires_at, token_lifetime)"
                " VALUES (%s, %s, %s, %s, %s, %s) RETURNING id, name, role, expires_at),"
                f" {record_change} SELECT id FROM changed",
                [
                    name,
                    role.value,
                    _hash(token),
                    now,
                    expires_at,
                    lifetime,
                    Change.CREATED.value,
                    by,
                    now,
                ],
                retries=0,
            )
        except IntegrityError:
            raise AccountExists(f"an account named {name!r} already exists") from None
        return Account(id=rows[0][0], name=name, role=role), token

    def disable(self, name: str, *, by: str = "cli") -> tuple[AccountRecord, bool]:
        """Disable the account: its token is refused from its next request on. Returns the
        account and whether it changed (False: it was disabled already)."""
        return self._change(name, Change.DISABLED, "disabled_at = %s", "disabled_at IS NULL", by)

    def enable(self, name: str, *, by: str = "cli") -> tuple[AccountRecord, bool]:
        """Enable a disabled account again (its token, unless expired, works again)."""
        return self._change(
            name, Change.ENABLED, "disabled_at = NULL", "disabled_at IS NOT NULL", by
        )

    def rotate(
        self, name: str, *, by: str = "cli", expires_in: timedelta | None = None
    ) -> tuple[AccountRecord, str]:
        """Give the account a new token, returned once; the old one stops working at once.

        The new token lives `expires_in`, or as long as the account's tokens were given to live
        (none: it does not expire).
        """
        token = secrets.token_urlsafe(32)
        lifetime = _lifetime(expires_in)
        now = self.clock()
        lifetime_sql = "token_lifetime" if lifetime is None else "%s::interval"
        assignments = (
            f"token_hash = %s, token_lifetime = {lifetime_sql}, expires_at = %s + {lifetime_sql}"
        )
        values: list[Any] = [_hash(token)]
        values += [] if lifetime is None else [lifetime]
        values += [now] + ([] if lifetime is None else [lifetime])
        record, _ = self._change(
            name, Change.ROTATED, assignments, "TRUE", by, values=values, detail=_EXPIRY_DETAIL
        )
        return record, token

    def _change(
        self,
        name: str,
        change: Change,
        assignments: str,
        condition: str,
        by: str,
        *,
        values: list[Any] | None = None,
        detail: str = "NULL",
    ) -> tuple[AccountRecord, bool]:
        now = self.clock()
        if values is None:
            values = [now] if "%s" in assignments else []
        rows = self.datastore.execute(
            f"WITH changed AS (UPDATE accounts SET {assignments}"
            f" WHERE name = %s AND {condition} RETURNING id, {_RECORD}),"
            f" {_RECORD_CHANGE.format(detail=detail)} SELECT {_RECORD} FROM changed",
            [*values, name, change.value, by, now],
            retries=0,
        )
        if rows:
            if self.sign_ins is not None:
                self.sign_ins.changed()
            return _record(rows[0]), True
        return self.get(name), False  # unchanged: raises AccountNotFound when there is none

    # -- reading ----------------------------------------------------------------------------------

    def get(self, name: str) -> AccountRecord:
        rows = self.datastore.execute(f"SELECT {_RECORD} FROM accounts WHERE name = %s", [name])
        if not rows:
            raise AccountNotFound(f"no account is named {name!r}")
        return _record(rows[0])

    def everyone(self) -> list[AccountRecord]:
        """Every account, by name."""
        rows = self.datastore.execute(f"SELECT {_RECORD} FROM accounts ORDER BY name")
        return [_record(row) for row in rows]

    def changes(self, name: str) -> list[AccountChange]:
        """Every change to the account, oldest first."""
        self.get(name)
        rows = self.datastore.execute(
            "SELECT account_name, change, changed_by, changed_at, detail FROM account_changes"
            " WHERE account_name = %s ORDER BY id",
            [name],
        )
        return [AccountChange(row[0], Change(row[1]), *row[2:]) for row in rows]

    def standing(self, name: str) -> AccountStanding | None:
        rows = self.datastore.execute(
            "SELECT role, disabled_at IS NULL FROM accounts WHERE name = %s", [name]
        )
        if not rows:
            return None
        role, enabled = rows[0]
        return AccountStanding(name, Role(role), bool(enabled))

    # -- signing in -------------------------------------------------------------------------------

    def verify(self, token: str) -> Account:
        """The account a bearer token belongs to; TokenRefused, saying why, for an unknown,
        disabled or expired one. Records the use (to the minute)."""
        now = self.clock()
        digest = _hash(token)
        # Read before the database, so that a change committed after this read is either seen
        # by the query below or bumps the generation past the one remembered with its answer.
        generation = None if self.sign_ins is None else self.sign_ins.generation()
        if self.sign_ins is not None and generation is not None:
            trusted = self.sign_ins.trusted(digest, generation, now)
            if trusted is not None:
                _check_expiry(trusted.expires_at, now)
                return trusted.account
        rows = self.datastore.execute(
            _AUTHENTICATE, {"hash": digest, "now": now, "stale": now - LAST_USED_RESOLUTION}
        )
        if not rows:
            raise TokenRefused("the bearer token is unknown")
        account_id, name, role, disabled_at, expires_at = rows[0]
        if disabled_at is not None:
            raise TokenRefused("the bearer token's account is disabled")
        _check_expiry(expires_at, now)
        account = Account(id=account_id, name=name, role=Role(role))
        if self.sign_ins is not None and generation is not None:
            self.sign_ins.remember(digest, _SignIn(account, expires_at, generation, now))
        return account

    def authenticate(self, token: str) -> Account | None:
        """The account a bearer token belongs to, or None for an unknown, disabled or expired
        one."""
        try:
            return self.verify(token)
        except TokenRefused:
            return None


def _check_expiry(expires_at: datetime | None, now: datetime) -> None:
    if expires_at is not None and expires_at <= now:
        raise TokenRefused(
            f"the bearer token expired at {expires_at.isoformat()}; "
            "ask an administrator to rotate it"
        )


def parse_lifetime(raw: str) -> timedelta:
    """A token's lifetime: whole days (`90`) or an ISO-8601 duration in days or weeks (`P90D`,
    `P12W`)."""
    text = raw.strip().upper()
    number, unit = text, "D"
    if text.startswith("P") and text[-1:] in ("D", "W"):
        number, unit = text[1:-1], text[-1]
    if not number.isdigit():
        raise AccountError(f"{raw!r} is not a token lifetime: give whole days (90) or P90D, P12W")
    return timedelta(days=int(number) * (7 if unit == "W" else 1))


def _lifetime(expires_in: timedelta | None) -> timedelta | None:
    if expires_in is None:
        return None
    if not timedelta(0) < expires_in <= MAX_LIFETIME:
        raise AccountError(f"a token lives from 1 day to {MAX_LIFETIME.days} days")
    return expires_in


def _record(row: tuple[Any, ...]) -> AccountRecord:
    name, role, *moments = row
    return AccountRecord(name, Role(role), *moments)


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
