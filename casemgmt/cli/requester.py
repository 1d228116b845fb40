"""`casemgmt requester erase ID --reason TEXT`: erase a requester's personal data.

The same erasure as `POST /api/v1/requesters/erase` (`casemgmt.application.erasure`), given by the
operator at the command line: the events name them `cli:<their login>`, role admin.
"""

from __future__ import annotations

import getpass
import sys
import uuid
from typing import TYPE_CHECKING, Any

from casemgmt.application.erasure import RequesterNotFound
from casemgmt.domain import Actor, Context, Role

if TYPE_CHECKING:
    import argparse
    from collections.abc import Callable


def register(commands: Any, started: Callable[[], Any]) -> None:
    """Adds `requester erase` to the command line."""
    requester = commands.add_parser("requester", help="requesters' personal data")
    actions = requester.add_subparsers(title="requester commands", required=True, metavar="ACTION")
    erase = actions.add_parser(
        "erase",
        help="erase a requester's name, identifier, contact and conversation from every case "
        "(their key is destroyed; events, counts, SLA figures and hash chains stay)",
    )
    erase.add_argument("requester_id", metavar="REQUESTER_ID", help="insurance or tax number")
    erase.add_argument(
        "--reason", required=True, help="why (e.g. the request's reference); never the person"
    )
    erase.set_defaults(command=lambda args: _erase(args, started))


def _erase(args: argparse.Namespace, started: Callable[[], Any]) -> int:
    with started() as container:
        actor = Actor(id=f"cli:{getpass.getuser()}", role=Role.ADMIN)
        ctx = Context(actor, container.clock(), f"requester-erase-{uuid.uuid4()}", "cli")
        try:
            erasure = container.erasure.erase(args.requester_id, args.reason, ctx)
        except RequesterNotFound as error:
            print(f"casemgmt: error: {error}", file=sys.stderr)
            return 2
    print(
        f"erased: {erasure.cases} case(s) now show the requester as erased; "
        f"erasure {erasure.erasure_id} at {erasure.erased_at.isoformat()}"
    )
    return 0
