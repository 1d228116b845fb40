"""`casemgmt sla apply` and `casemgmt sla replay`: the SLA policy applied to open cases, and what
past cases' compliance would have been under another policy."""

from __future__ import annotations

import csv
import json
import sys
import uuid
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from casemgmt.application.sla_replay import compare
from casemgmt.cli.arguments import range_moment
from casemgmt.cli.progress import progress_bar
from casemgmt.domain import Context, InvalidCommand
from casemgmt.persistence.policy_applied import record_applied_policy
from casemgmt.policy_file import PolicyFileError, load_policy
from casemgmt.queries.case_ids import case_ids
from casemgmt.runtime.sla_timer import TIMER, apply_policy_to_open_cases

if TYPE_CHECKING:
    import argparse
    from collections.abc import Callable, Iterator

    from casemgmt.bootstrap import Container
    from casemgmt.domain import Case


def register(commands: Any, started: Callable[[], Any]) -> None:
    """Adds `sla apply` and `sla replay` to the command line."""
    sla = commands.add_parser("sla", help="SLA clocks: apply the policy, replay under another")
    actions = sla.add_subparsers(title="sla commands", required=True, metavar="ACTION")
    apply = actions.add_parser(
        "apply",
        help="recompute the deadlines of every open case under the policy in force "
        "(after a calendar or policy change); each case that moves says why in its history",
    )
    apply.set_defaults(command=lambda args: _apply(args, started))
    replay = actions.add_parser(
        "replay",
        help="compare past cases' SLA compliance with what another policy would have given "
        "(changes nothing)",
    )
    replay.add_argument("--policy", required=True, type=Path, help="the other policy (TOML)")
    replay.add_argument("--from", dest="start", required=True, help="received from (ISO-8601)")
    replay.add_argument("--to", dest="end", required=True, help="received before (ISO-8601)")
    replay.add_argument("--format", choices=["table", "csv", "json"], default="table")
    replay.set_defaults(command=lambda args: _replay(args, started))


def _apply(_: argparse.Namespace, started: Callable[[], Any]) -> int:
    with started() as container:
        ctx = Context(TIMER, container.clock(), f"sla-apply-{uuid.uuid4()}", "rule:sla-apply")
        with progress_bar("open cases") as progress:
            done, changed = apply_policy_to_open_cases(
                container.care_centre, container.datastore, ctx, progress=progress
            )
        record_applied_policy(
            container.datastore,
            container.sla_policy_fingerprint,
            container.sla_policy.version,
            ctx.at,
        )
    version = container.sla_policy.version
    print(f"policy {version}: {changed} of {done} open cases had their deadlines recomputed")
    return 0


def _replay(args: argparse.Namespace, started: Callable[[], Any]) -> int:
    try:
        other = load_policy(args.policy, setting="--policy")
    except PolicyFileError as error:
        raise InvalidCommand("--policy", str(error)) from None
    start, end = range_moment("--from", args.start), range_moment("--to", args.end)
    with started() as container:
        histories = _histories(container, start, end)
        comparison = compare(histories, other, min(end, container.clock()))
    rows = comparison.rows()
    if args.format == "json":
        json.dump({"cases": comparison.cases, "rows": rows}, sys.stdout, ensure_ascii=False)
        print()
    elif args.format == "csv":
        writer = csv.DictWriter(sys.stdout, fieldnames=list(rows[0]) if rows else ["group"])
        writer.writeheader()
        writer.writerows(rows)
    else:
        print(f"{comparison.cases} cases received from {start.isoformat()} to {end.isoformat()}")
        print(f"{'group':<10} {'value':<18} {'clock':<15} {'actual':>8} {'what-if':>8}")
        for row in rows:
            print(
                f"{row['group']:<10} {row['value']!s:<18.18} {row['clock']:<15} "
                f"{_rate(row['actual_compliance']):>8} {_rate(row['what_if_compliance']):>8}"
            )
    return 0


def _histories(container: Container, start: datetime, end: datetime) -> Iterator[list[Case.Event]]:
    for case_id in case_ids(container.datastore, received_from=start, received_to=end):
        yield container.care_centre.history(case_id)


def _rate(value: object) -> str:
    return "—" if value is None else f"{float(value):.1%}"  # type: ignore[arg-type]
