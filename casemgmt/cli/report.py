"""`casemgmt report analysis`: the improvement analysis of a period as one HTML page, for the
directors who decide what to change (the figures of `GET /api/v1/reports/analysis`, drawn by
`casemgmt.reports.analysis_html`).

The page is written whole, once its figures are known: a command that fails leaves an earlier
report in place, never half of a new one.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from casemgmt.cli.arguments import range_moment, time_zone
from casemgmt.domain import InvalidCommand
from casemgmt.queries.analysis import analysis
from casemgmt.queries.reports import Period
from casemgmt.reports.analysis_html import render

if TYPE_CHECKING:
    import argparse
    from collections.abc import Callable

STDOUT = "-"


def register(commands: Any, started: Callable[[], Any]) -> None:
    """Adds the `report` command group (`report analysis`) to the command line."""
    report = commands.add_parser("report", help="reports to read and keep: the analysis as HTML")
    kinds = report.add_subparsers(title="reports", required=True, metavar="REPORT")
    page = kinds.add_parser(
        "analysis",
        help="where cases' working time goes, transfer loops, reopens, repeat contacts, frequent "
        "subject terms, breaches and satisfaction, as one self-contained HTML page with charts",
    )
    page.add_argument(
        "--from",
        dest="start",
        required=True,
        metavar="DATE",
        help="cases received from (ISO-8601 date or moment, included)",
    )
    page.add_argument(
        "--to",
        dest="end",
        required=True,
        metavar="DATE",
        help="cases received before (ISO-8601, excluded)",
    )
    page.add_argument(
        "--tz",
        default="UTC",
        metavar="ZONE",
        help="IANA time zone of the dates and moments given without one, e.g. Asia/Ho_Chi_Minh "
        "(default UTC)",
    )
    page.add_argument(
        "--out",
        default=STDOUT,
        metavar="FILE",
        help="the HTML file to write; stdout when left out or -",
    )
    page.set_defaults(command=lambda args: _analysis(args, started))


def _analysis(args: argparse.Namespace, started: Callable[[], Any]) -> int:
    zone = time_zone("--tz", args.tz)
    start = range_moment("--from", args.start, zone)
    end = range_moment("--to", args.end, zone)
    if end <= start:
        raise InvalidCommand("--to", f"{args.end!r} must be later than --from {args.start!r}")
    out = None if args.out == STDOUT else _writable(Path(args.out))
    with started() as container:
        figures = analysis(container.datastore, Period(start, end, args.tz), container.sla_policy)
    page = render(figures).encode("utf-8")  # the page says it is UTF-8, whatever the locale
    if out is None:
        sys.stdout.buffer.write(page)
        sys.stdout.flush()
    else:
        _write(out, page)
    where = "stdout" if out is None else str(out)
    print(f"wrote the analysis of {figures['cases']} cases to {where}", file=sys.stderr)
    return 0


def _writable(path: Path) -> Path:
    """The file, if a page can be written there (checked before the figures are computed)."""
    folder = path.parent
    if path.is_dir():
        raise InvalidCommand("--out", f"{path} is a directory; name the HTML file to write")
    if not folder.is_dir():
        raise InvalidCommand("--out", f"{folder} is not a directory")
    if not os.access(folder, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise InvalidCommand("--out", f"{path} cannot be written (permission denied)")
    return path


def _write(path: Path, page: bytes) -> None:
    """Writes beside the file, then puts it in the file's place in one step."""
    partial = path.with_name(f".{path.name}.partial")
    try:
        partial.write_bytes(page)
        partial.replace(path)
    except OSError as error:
        partial.unlink(missing_ok=True)
        raise InvalidCommand("--out", f"{path} could not be written: {error.strerror}") from None
