"""`casemgmt user add | list | disable | enable | rotate`: API accounts and their tokens.

A new or rotated token is printed alone on the last line, once (only its hash is kept). Each change
is recorded with `cli:` and the operating-system user as who made it.
"""

from __future__ import annotations

import getpass
from typing import TYPE_CHECKING, Any

from casemgmt.cli.tables import print_table
from casemgmt.domain import ACCOUNT_ROLES
from casemgmt.persistence.accounts import parse_lifetime

if TYPE_CHECKING:
    import argparse
    from collections.abc import Callable
    from contextlib import AbstractContextManager
    from datetime import datetime, timedelta

    from casemgmt.bootstrap import Container

    Started = Callable[[], AbstractContextManager[Container]]

_LIFETIME_HELP = "the token expires after this long: whole days (90) or P90D, P12W; default: never"


def register(commands: Any, started: Started) -> None:
    """Adds `user add`, `user list`, `user disable`, `user enable` and `user rotate`."""
    user = commands.add_parser("user", help="manage API accounts and their tokens")
    actions = user.add_subparsers(title="user commands", required=True, metavar="ACTION")

    add = actions.add_parser("add", help="create an account and print its token")
    add.add_argument("name")
    add.add_argument("--role", required=True, choices=[r.value for r in ACCOUNT_ROLES])
    add.add_argument("--expires-in", metavar="DAYS", help=_LIFETIME_HELP)
    add.set_defaults(command=lambda args: _add(args, started))

    listing = actions.add_parser(
        "list", help="every account: role, created, last used, expires, disabled"
    )
    listing.set_defaults(command=lambda args: _list(started))

    disable = actions.add_parser("disable", help="refuse the account's token from now on")
    disable.add_argument("name")
    disable.set_defaults(command=lambda args: _disable(args, started))

    enable = actions.add_parser("enable", help="accept a disabled account's token again")
    enable.add_argument("name")
    enable.set_defaults(command=lambda args: _enable(args, started))

    rotate = actions.add_parser(
        "rotate", help="give the account a new token (printed once); the old one stops at once"
    )
    rotate.add_argument("name")
    rotate.add_argument(
        "--expires-in", metavar="DAYS", help="the new token's lifetime; default: as the old one's"
    )
    rotate.set_defaults(command=lambda args: _rotate(args, started))


def changed_by() -> str:
    """Who makes a change from the command line: `cli:` and the operating-system user."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no user name for this uid (a bare container)
        return "cli"


def _lifetime(raw: str | None) -> timedelta | None:
    return None if raw is None else parse_lifetime(raw)


def _add(args: argparse.Namespace, started: Started) -> int:
    lifetime = _lifetime(args.expires_in)
    with started() as container:
        account, token = container.accounts.add(
            args.name, args.role, expires_in=lifetime, by=changed_by()
        )
        expires_at = container.accounts.get(account.name).expires_at
    expiry = f", expiring at {_moment(expires_at)}" if expires_at else ""
    print(f"created account {account.name!r} with role {account.role.value}{expiry}; its token:")
    print(token)
    return 0


def _list(started: Started) -> int:
    with started() as container:
        records = container.accounts.everyone()
        now = container.clock()
    rows = [
        (
            record.name,
            record.role.value,
            record.state_at(now),
            _moment(record.created_at),
            _moment(record.last_used_at),
            _moment(record.expires_at),
            _moment(record.disabled_at),
        )
        for record in records
    ]
    print_table(("name", "role", "state", "created", "last used", "expires", "disabled"), rows)
    return 0


def _disable(args: argparse.Namespace, started: Started) -> int:
    with started() as container:
        _, changed = container.accounts.disable(args.name, by=changed_by())
    print(f"disabled {args.name!r}" if changed else f"{args.name!r} was already disabled")
    return 0


def _enable(args: argparse.Namespace, started: Started) -> int:
    with started() as container:
        _, changed = container.accounts.enable(args.name, by=changed_by())
    print(f"enabled {args.name!r}" if changed else f"{args.name!r} was already enabled")
    return 0


def _rotate(args: argparse.Namespace, started: Started) -> int:
    lifetime = _lifetime(args.expires_in)
    with started() as container:
        record, token = container.accounts.rotate(args.name, by=changed_by(), expires_in=lifetime)
    expiry = f", expiring at {_moment(record.expires_at)}" if record.expires_at else ""
    print(f"rotated the token of {record.name!r}{expiry}; the old token no longer works; new:")
    print(token)
    return 0


def _moment(moment: datetime | None) -> str:
    return "—" if moment is None else moment.isoformat(timespec="seconds")
