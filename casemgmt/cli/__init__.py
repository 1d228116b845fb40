"""The `casemgmt` command: one entry point for serving, migrating and administering casemgmt.

Every failure a user can cause (a bad URL, an unreachable database, an unwritable data directory,
an unknown role) ends the command with one line on stderr saying what is wrong and how to fix it.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

from eventsourcing.persistence import PersistenceError

# The same shapes as GET /api/v1/cases/{id} and GET /api/v1/cases/{id}/history.
from casemgmt.api.presenters import case_view, history_entries
from casemgmt.application import CaseNotFound
from casemgmt.bootstrap import StartupError, prepare, start
from casemgmt.cli import audit, sla
from casemgmt.cli.progress import progress_bar
from casemgmt.cli.serving import serve
from casemgmt.domain import ACCOUNT_ROLES, InvalidCommand
from casemgmt.embedded import EmbeddedServerError
from casemgmt.persistence.accounts import AccountError
from casemgmt.runtime import UnknownProjection
from casemgmt.runtime.runner import DEFAULT_BATCH_SIZE, run_until_signalled
from casemgmt.settings import Settings, SettingsError

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence

    from casemgmt.bootstrap import Container

# Errors that mean "the user's setup or input is wrong": reported in one line, exit status 2.
USER_ERRORS = (
    SettingsError,
    UnknownProjection,
    EmbeddedServerError,
    StartupError,
    AccountError,
    CaseNotFound,
    InvalidCommand,
)


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    command: Callable[[argparse.Namespace], int] = args.command
    try:
        return command(args)
    except USER_ERRORS as error:
        print(f"casemgmt: error: {error}", file=sys.stderr)
        return 2
    except PersistenceError as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else repr(error)
        print(f"casemgmt: database error: {reason}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="casemgmt",
        description="Event-sourced case management for a social security customer care centre.",
    )
    commands = parser.add_subparsers(title="commands", required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="serve the HTTP API (gunicorn)")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on")
    serve.add_argument("--port", type=int, default=8000, help="port to listen on")
    serve.add_argument("--workers", type=int, default=2, help="worker processes")
    serve.add_argument("--threads", type=int, default=8, help="threads per worker")
    serve.add_argument(
        "--no-workers",
        action="store_true",
        help="do not run the projections in the server (run `casemgmt worker` instead)",
    )
    serve.set_defaults(command=_serve)

    worker = commands.add_parser("worker", help="run the projections until stopped")
    worker.add_argument("--only", action="append", metavar="NAME", help="run only these")
    worker.add_argument(
        "--batch-size", type=_positive, default=DEFAULT_BATCH_SIZE, help="events per transaction"
    )
    worker.set_defaults(command=_worker)

    rebuild = commands.add_parser("rebuild", help="recreate projections from the event store")
    rebuild.add_argument(
        "--projection", action="append", metavar="NAME", help="rebuild only these (repeatable)"
    )
    rebuild.set_defaults(command=_rebuild)

    migrate_cmd = commands.add_parser("migrate", help="bring the database schema up to date")
    migrate_cmd.set_defaults(command=_migrate)

    user = commands.add_parser("user", help="manage API accounts")
    user_commands = user.add_subparsers(title="user commands", required=True, metavar="ACTION")
    add = user_commands.add_parser("add", help="create an account and print its token")
    add.add_argument("name")
    add.add_argument("--role", required=True, choices=[r.value for r in ACCOUNT_ROLES])
    add.set_defaults(command=_user_add)

    sla.register(commands, _started)
    audit.register(commands, _started)

    case = commands.add_parser("case", help="inspect cases")
    case_commands = case.add_subparsers(title="case commands", required=True, metavar="ACTION")
    show = case_commands.add_parser("show", help="print a case as JSON")
    show.add_argument("id", help="the case's id")
    show.add_argument("--as-of", help="ISO-8601 moment: the case as it stood then")
    show.set_defaults(command=_case_show)
    history = case_commands.add_parser(
        "history", help="print every event of a case: who, when, why and what it changed"
    )
    history.add_argument("id", help="the case's id")
    history.set_defaults(command=_case_history)
    return parser


def _serve(args: argparse.Namespace) -> int:
    # Only prepared here: each gunicorn worker builds its own container after the fork.
    prepared = prepare(Settings.from_env())
    with prepared.servers:
        serve(
            prepared.settings,
            host=args.host,
            port=args.port,
            workers=args.workers,
            threads=args.threads,
            run_projections=not args.no_workers,
        )
    return 0


def _worker(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    with _started() as container:
        for name in args.only or []:
            container.projections.check_runner(name)  # an unknown name fails, naming the known
        run_until_signalled(container.projections.worker(args.only, batch_size=args.batch_size))
    return 0


def _rebuild(args: argparse.Namespace) -> int:
    with _started() as container:
        names = args.projection or container.projections.names
        for name in names:
            container.projections[name]
        for name in names:
            with progress_bar(name) as progress:
                replayed = container.projections.rebuild(name, progress=progress)
            print(f"rebuilt {name} from {replayed} events")
    return 0


def _migrate(_: argparse.Namespace) -> int:
    prepared = prepare(Settings.from_env())
    prepared.servers.stop()
    applied = prepared.applied
    print(f"applied: {', '.join(applied)}" if applied else "the schema is up to date")
    return 0


def _user_add(args: argparse.Namespace) -> int:
    with _started() as container:
        account, token = container.accounts.add(args.name, args.role)
    print(f"created account {account.name!r} with role {account.role.value}; its token:")
    print(token)
    return 0


def _case_show(args: argparse.Namespace) -> int:
    case_id = _parse_case_id(args.id)
    as_of = _parse_moment(args.as_of) if args.as_of else None
    with _started() as container:
        case = container.care_centre.case_at(case_id, as_of=as_of)
        at = as_of or container.clock()
        view: dict[str, Any] = case_view(case, container.routing, container.sla_policy, at)
    print(json.dumps(view, indent=2, ensure_ascii=False, default=str))
    return 0


def _case_history(args: argparse.Namespace) -> int:
    case_id = _parse_case_id(args.id)
    with _started() as container:
        entries = history_entries(container.care_centre.history(case_id))
    rows = [
        (
            str(entry["version"]),
            entry["timestamp"].isoformat(timespec="seconds"),
            entry["type"],
            f"{entry['actor'].id} ({entry['actor'].role.value})",
            entry["cause"],
            "; ".join(entry["changes"]),
        )
        for entry in entries
    ]
    header = ("version", "time", "type", "actor (role)", "cause", "changes")
    widths = [max(len(row[n]) for row in [header, *rows]) for n in range(len(header) - 1)]
    for row in [header, *rows]:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        print("  ".join([*cells, row[-1]]).rstrip())
    return 0


@contextmanager
def _started() -> Iterator[Container]:
    container = start(Settings.from_env())
    try:
        yield container
    finally:
        container.close()


def _positive(raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{raw!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{raw!r} must be at least 1")
    return value


def _parse_case_id(raw: str) -> UUID:
    try:
        return UUID(raw)
    except ValueError:
        raise InvalidCommand("id", f"{raw!r} is not a case id (a UUID)") from None


def _parse_moment(raw: str) -> datetime:
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise InvalidCommand("as_of", f"{raw!r} is not an ISO-8601 date and time") from None
    if moment.tzinfo is None:
        raise InvalidCommand("as_of", f"{raw!r} needs a time zone, e.g. {raw}+07:00")
    return moment


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
