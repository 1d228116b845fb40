"""`casemgmt audit export`: the action log of a time range on stdout, as CSV or JSON lines.

Entries are read a page at a time (`casemgmt.queries.audit.export_events`) and written as they
come, so the memory used does not grow with the range.
"""

from __future__ import annotations

import csv
import json
import sys
from typing import TYPE_CHECKING, Any, Final

from casemgmt.api.presenters import audit_event_view  # the same shape as GET /api/v1/audit/events
from casemgmt.cli.arguments import range_moment
from casemgmt.queries.audit import export_events

if TYPE_CHECKING:
    import argparse
    from collections.abc import Callable, Iterable
    from typing import TextIO

    from casemgmt.readmodels.audit_entry import AuditEntry

# The CSV columns: an entry's view, its actor spread over three columns.
CSV_COLUMNS: Final = (
    "notification_id",
    "timestamp",
    "case_id",
    "case_reference",
    "version",
    "type",
    "actor_id",
    "actor_role",
    "on_behalf_of",
    "cause",
    "correlation_id",
    "unit",
    "status",
    "changes",
    "data",
)


def add_export(actions: Any, started: Callable[[], Any]) -> None:
    """Adds `export` to the `audit` command group (`actions`: its sub-command parsers)."""
    export = actions.add_parser(
        "export",
        help="write the action log of a time range to stdout, oldest first (any volume)",
    )
    export.add_argument("--from", dest="start", required=True, help="from (ISO-8601, included)")
    export.add_argument("--to", dest="end", required=True, help="to (ISO-8601, excluded)")
    export.add_argument("--format", choices=["csv", "jsonl"], default="csv")
    export.set_defaults(command=lambda args: _export(args, started))


def _export(args: argparse.Namespace, started: Callable[[], Any]) -> int:
    start, end = range_moment("--from", args.start), range_moment("--to", args.end)
    write = write_jsonl if args.format == "jsonl" else write_csv
    with started() as container:
        written = write(export_events(container.datastore, start, end), sys.stdout)
    print(f"exported {written} events", file=sys.stderr)
    return 0


def write_jsonl(entries: Iterable[AuditEntry], out: TextIO) -> int:
    """One JSON object per line, as `GET /api/v1/audit/events` shows an entry."""
    written = 0
    for entry in entries:
        out.write(json.dumps(audit_event_view(entry), ensure_ascii=False))
        out.write("\n")
        written += 1
    return written


def write_csv(entries: Iterable[AuditEntry], out: TextIO) -> int:
    """One row per entry; `changes` joined by "; ", `data` as JSON."""
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS)
    writer.writeheader()
    written = 0
    for entry in entries:
        view = audit_event_view(entry)
        actor = view.pop("actor")
        writer.writerow(
            {
                **view,
                "actor_id": actor["id"],
                "actor_role": actor["role"],
                "on_behalf_of": actor["on_behalf_of"],
                "changes": "; ".join(view["changes"]),
                "data": json.dumps(view["data"], ensure_ascii=False),
            }
        )
        written += 1
    return written
