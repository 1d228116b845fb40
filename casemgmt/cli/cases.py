"""`casemgmt case list|show|history`: cases as the API shows them, from the command line.

A case is named by its id or by its reference (`CC-2026-000001`), as agents quote it on the phone.
"""

from __future__ import annotations

import argparse
import json
import re
from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

# The same shapes as GET /api/v1/cases/{id} and GET /api/v1/cases/{id}/history.
from casemgmt.api.presenters import case_view, history_entries
from casemgmt.application import CaseNotFound
from casemgmt.cli.tables import print_table
from casemgmt.domain import InvalidCommand
from casemgmt.queries.case_ids import case_id_by_reference
from casemgmt.queries.case_list import MAX_PER_PAGE, search_cases

if TYPE_CHECKING:
    from collections.abc import Callable
    from contextlib import AbstractContextManager

    from casemgmt.bootstrap import Container

    Started = Callable[[], AbstractContextManager[Container]]

_DATE_ONLY = re.compile(r"\d{4}-\d{2}-\d{2}")


def register(commands: Any, started: Started) -> None:
    """Adds `case list`, `case show` and `case history` to the command line."""
    case = commands.add_parser("case", help="find and inspect cases")
    actions = case.add_subparsers(title="case commands", required=True, metavar="ACTION")

    listing = actions.add_parser("list", help="list cases from the case list, newest first")
    listing.add_argument("--status", action="append", help="only this status (repeatable)")
    listing.add_argument("--assignee", help="only cases held by this account")
    listing.add_argument("--queue", help="only cases in this work queue")
    listing.add_argument("--text", help="words in the subject or messages (diacritics optional)")
    listing.add_argument(
        "--limit", type=_limit, default=25, help=f"how many (1–{MAX_PER_PAGE}; default 25)"
    )
    listing.set_defaults(command=lambda args: _list(args, started))

    show = actions.add_parser("show", help="print a case as JSON, as the API shows it")
    show.add_argument("case", metavar="ID_OR_REFERENCE", help="the case's id or its reference")
    moment = show.add_mutually_exclusive_group()
    moment.add_argument(
        "--as-of", help="the case as it stood at this moment (ISO-8601 with a time zone)"
    )
    moment.add_argument("--version", type=int, help="the case as it stood at this version")
    show.set_defaults(command=lambda args: _show(args, started))

    history = actions.add_parser(
        "history", help="print every event of a case: who, when, why and what it changed"
    )
    history.add_argument("case", metavar="ID_OR_REFERENCE", help="the case's id or its reference")
    history.set_defaults(command=lambda args: _history(args, started))


def _list(args: argparse.Namespace, started: Started) -> int:
    with started() as container:
        found, total = search_cases(
            container.datastore,
            status=args.status,
            assignee=args.assignee,
            queue=args.queue,
            text=args.text,
            per_page=args.limit,
        )
    header = ("reference", "status", "priority", "queue", "assignee", "received", "subject")
    rows = [
        (
            summary.reference,
            summary.status,
            summary.priority,
            summary.queue or "—",
            summary.assignee or "—",
            summary.received_at.isoformat(timespec="minutes"),
            summary.subject,
        )
        for summary in found
    ]
    print_table(header, rows)
    print(f"{len(found)} of {total} cases")
    return 0


def _show(args: argparse.Namespace, started: Started) -> int:
    as_of = as_of_moment(args.as_of) if args.as_of else None
    with started() as container:
        case_id = resolve_case(container, args.case)
        case = container.care_centre.case_at(case_id, version=args.version, as_of=as_of)
        at = as_of or (case.modified_on if args.version is not None else container.clock())
        view: dict[str, Any] = case_view(case, container.routing, container.sla_policy, at)
    print(json.dumps(view, indent=2, ensure_ascii=False, default=str))
    return 0


def _history(args: argparse.Namespace, started: Started) -> int:
    with started() as container:
        case_id = resolve_case(container, args.case)
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
    print_table(("version", "time", "type", "actor (role)", "cause", "changes"), rows)
    return 0


def resolve_case(container: Container, named: str) -> UUID:
    """The id of the case named by its id or by its reference."""
    try:
        return UUID(named)
    except ValueError:
        pass
    case_id = case_id_by_reference(container.datastore, named.strip())
    if case_id is None:
        detail = f"no case has the id or reference {named!r} (an id is a UUID, a reference "
        raise CaseNotFound(None, detail + "looks like CC-2026-000001)")
    return case_id


def as_of_moment(raw: str) -> datetime:
    """A moment given with `--as-of`: ISO-8601 with a time zone (a date alone is not a moment)."""
    raw = raw.strip()
    example = f"{raw}T17:00:00+07:00" if _DATE_ONLY.fullmatch(raw) else f"{raw}+07:00"
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise InvalidCommand(
            "as_of", f"{raw!r} is not an ISO-8601 moment; write e.g. 2026-12-01T17:00:00+07:00"
        ) from None
    if moment.tzinfo is None or _DATE_ONLY.fullmatch(raw):
        raise InvalidCommand("as_of", f"{raw!r} needs a time and a time zone, e.g. {example}")
    return moment


def _limit(raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{raw!r} is not a whole number") from None
    if not 1 <= value <= MAX_PER_PAGE:
        raise argparse.ArgumentTypeError(f"{raw!r} must be from 1 to {MAX_PER_PAGE}")
    return value
