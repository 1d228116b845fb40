"""`casemgmt audit verify` and `casemgmt audit anchor`: tamper evidence of the event store.

`verify` recomputes the hash chains of one case or of every case and the whole notification log
(`casemgmt/persistence/verification.py`), prints the first problems and exits 1 when there is any.
`anchor` prints the log chain's head, for the agency to keep outside the system; `verify --anchor`
later checks that the log still holds it.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final
from uuid import UUID

from casemgmt.cli.audit_export import add_export
from casemgmt.cli.progress import progress_bar
from casemgmt.domain import InvalidCommand
from casemgmt.persistence.verification import ChainAudit

if TYPE_CHECKING:
    import argparse
    from collections.abc import Callable, Sequence

    from casemgmt.persistence.verification import Problem

SHOWN: Final = 20  # problems printed; the count says how many more there are


def register(commands: Any, started: Callable[[], Any]) -> None:
    """Adds the `audit` command group to the command line."""
    audit = commands.add_parser("audit", help="audit: verify the event store, anchor it, export")
    actions = audit.add_subparsers(title="audit commands", required=True, metavar="ACTION")
    verify = actions.add_parser(
        "verify",
        help="check that stored events are unchanged, complete and in order (exit 1 if not)",
    )
    verify.add_argument("--case", metavar="ID", help="only this case (default: every case)")
    verify.add_argument(
        "--anchor",
        metavar="FILE",
        type=Path,
        action="append",
        help="an anchor kept from `casemgmt audit anchor` that the log must still hold",
    )
    verify.set_defaults(command=lambda args: _verify(args, started))
    anchor = actions.add_parser(
        "anchor", help="print the head of the log's hash chain, to keep outside the system"
    )
    anchor.set_defaults(command=lambda _: _anchor(started))
    add_export(actions, started)


def _verify(args: argparse.Namespace, started: Callable[[], Any]) -> int:
    anchors = [_read_anchor(path) for path in args.anchor or []]
    if args.case is not None:
        if anchors:
            raise InvalidCommand("--anchor", "an anchor is checked against the whole log only")
        return _verify_case(_case_id(args.case), started)
    with started() as container:
        audit = ChainAudit.of(container.care_centre.recorder)
        with progress_bar("events checked") as progress:
            verdict = audit.verify_all(progress, anchors)
    print(
        f"checked {verdict.notifications} events of {verdict.cases} cases"
        + (", seals included" if verdict.seals_checked else " (no CASEMGMT_AUDIT_KEY: no seals)")
    )
    if verdict.unsealed:
        print(f"{verdict.unsealed} events written before the audit key was set are not sealed")
    return _outcome(verdict.problems)


def _verify_case(case_id: UUID, started: Callable[[], Any]) -> int:
    with started() as container:
        verdict = ChainAudit.of(container.care_centre.recorder).verify_case(case_id)
    if verdict is None:
        raise InvalidCommand("--case", f"the event store knows no case {case_id}")
    print(f"case {case_id}: {verdict.events} events")
    return _outcome(verdict.problems)


def _outcome(problems: Sequence[Problem]) -> int:
    if not problems:
        print("intact")
        return 0
    print(f"NOT INTACT: {len(problems)} problem(s)")
    for problem in problems[:SHOWN]:
        print(f"  {_where(problem)}: {problem.problem}: {problem.detail}")
    if len(problems) > SHOWN:
        print(f"  … and {len(problems) - SHOWN} more")
    return 1


def _where(problem: Problem) -> str:
    places = []
    if problem.case_id is not None:
        places.append(f"case {problem.case_id} version {problem.version}")
    if problem.notification_id is not None:
        places.append(f"notification {problem.notification_id}")
    return ", ".join(places)


def _anchor(started: Callable[[], Any]) -> int:
    with started() as container:
        audit = ChainAudit.of(container.care_centre.recorder)
        anchor = audit.anchor(container.clock())
    if anchor is None:
        print("the event store is empty: nothing to anchor yet", file=sys.stderr)
        return 1
    print(json.dumps(anchor.as_dict(), indent=2))
    return 0


def _read_anchor(path: Path) -> tuple[int, bytes]:
    try:
        kept = json.loads(path.read_text(encoding="utf-8"))
        return int(kept["notification_id"]), bytes.fromhex(kept["log_hash"])
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise InvalidCommand("--anchor", f"{path} is not an anchor ({error})") from None


def _case_id(raw: str) -> UUID:
    try:
        return UUID(raw)
    except ValueError:
        raise InvalidCommand("--case", f"{raw!r} is not a case id (a UUID)") from None
