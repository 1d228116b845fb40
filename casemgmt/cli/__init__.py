"""The `casemgmt` command: one entry point for serving, migrating and administering casemgmt.

Every failure a user can cause (a bad URL, an unreachable database, an unwritable data directory,
an unknown role) ends the command with one line on stderr saying what is wrong and how to fix it.
"""

from __future__ import annotations

import argparse
import logging
import sys
from contextlib import contextmanager
from importlib import metadata
from typing import TYPE_CHECKING

from eventsourcing.persistence import PersistenceError

from casemgmt.application import CaseNotFound
from casemgmt.bootstrap import StartupError, prepare, start
from casemgmt.cli import audit, cases, demo, report, requester, sla, users
from casemgmt.cli.buffered_worker import ServerLimits
from casemgmt.cli.progress import progress_bar
from casemgmt.cli.serving import check_port, serve
from casemgmt.domain import InvalidCommand
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
    parser.add_argument("--version", action="version", version=f"casemgmt {_version()}")
    commands = parser.add_subparsers(title="commands", required=True, metavar="COMMAND")

    serve = commands.add_parser(
        "serve",
        help="serve the HTTP API (gunicorn)",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on")
    serve.add_argument("--port", type=int, default=8000, help="port to listen on")
    serve.add_argument("--workers", type=int, default=2, help="worker processes")
    serve.add_argument("--threads", type=int, default=8, help="threads per worker")
    serve.add_argument(
        "--read-timeout",
        type=_positive,
        default=ServerLimits.read_timeout,
        help="seconds a connection may send or take nothing before it is closed",
    )
    serve.add_argument(
        "--connection-limit",
        type=_positive,
        default=ServerLimits.connection_limit,
        help="open connections per worker process; more wait to be accepted",
    )
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

    users.register(commands, _started)
    sla.register(commands, _started)
    audit.register(commands, _started)
    report.register(commands, _started)
    requester.register(commands, _started)
    demo.register(commands, _started)

    cases.register(commands, _started)
    return parser


def _serve(args: argparse.Namespace) -> int:
    check_port(args.host, args.port)  # before the embedded servers start, not after
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
            limits=ServerLimits(
                read_timeout=args.read_timeout,
                connection_limit=args.connection_limit,
                max_body_bytes=prepared.settings.max_request_bytes,
            ),
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


def _version() -> str:
    try:
        return metadata.version("casemgmt")
    except metadata.PackageNotFoundError:  # run from a source tree that was never installed
        return "(not installed)"


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


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
